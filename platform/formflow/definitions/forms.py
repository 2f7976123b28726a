"""Compiling one schema-valid form file into a :class:`Form`, checking what it means.

The JSON Schema has already vouched for the shape of every key. What is left is meaning:
names that must refer to something (fields, forms, roles, options), expressions that must
parse and read only names that exist, and settings that contradict each other. Every
problem is collected, at its place, instead of stopping at the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from jsonschema import Draft202012Validator

from formflow.definitions.agenda import compile_agenda, compile_card, read_inline
from formflow.definitions.compiling import (
    CONTEXT_NAMES,
    DocumentCompiler,
    compile_expression,
    keyed_items,
    label,
    optional_label,
    suggest,
    unknown,
)
from formflow.definitions.cycles import cycles
from formflow.definitions.model import (
    SYSTEM_FIELDS,
    Field,
    FieldRule,
    Form,
    FormRule,
    Index,
    ListView,
    OnDelete,
    Option,
    Permission,
    Scope,
    SortKey,
)
from formflow.definitions.source import PathKey
from formflow.expressions import Expression
from formflow.fields import FieldType, Reference, ValueKind
from formflow.fields.untyped import UNTYPED

COMMON_FIELD_KEYS = frozenset(
    {
        "key",
        "type",
        "label",
        "help",
        "required",
        "required_if",
        "visible_if",
        "readonly",
        "set_once",
        "unique",
        "indexed",
        "default",
        "default_expr",
        "renamed_from",
    }
)


def compile_form(compiler: DocumentCompiler) -> Form:
    """A :class:`Form` from ``compiler.document``."""
    return FormCompiler(compiler.document, compiler.context, compiler.errors).compile()


class FieldChecks:
    """A field type's view of the compiler: errors land below the field's own path."""

    def __init__(self, compiler: FormCompiler, path: PathKey) -> None:
        self.form_keys = compiler.context.form_keys
        self._compiler = compiler
        self._path = path

    def error(self, path: tuple[str | int, ...], message: str) -> None:
        self._compiler.error((*self._path, *path), message)


class FormCompiler(DocumentCompiler):
    """Compiles one form document into a :class:`Form`."""

    def compile(self) -> Form:
        data = self.document.data
        top_keys = [f.get("key") for f in data["fields"]]
        names = frozenset(k for k in top_keys if isinstance(k, str)) | SYSTEM_FIELDS.keys()
        fields = self._fields(data["fields"], ("fields",), names | CONTEXT_NAMES, top_level=True)
        fields = self._fills(fields)
        form = Form(
            key=data["key"],
            label=label(data["label"]),
            description=optional_label(data.get("description")),
            icon=data.get("icon"),
            title_field=data["title_field"],
            owner_field=data.get("owner_field", "created_by"),
            fields=fields,
            permissions=self._permissions(data.get("permissions") or {}, fields),
            list_view=self._list_view(
                data.get("list") or {}, fields, names | CONTEXT_NAMES, data["title_field"]
            ),
            indexes=self._indexes(data.get("indexes") or []),
            rules=self._rules(data.get("rules") or [], fields, names | CONTEXT_NAMES),
            readonly_if=self._expression(data, "readonly_if", (), names | CONTEXT_NAMES),
            agenda=compile_agenda(self, data.get("agenda") or [], fields, data["title_field"]),
            inline=read_inline(data.get("inline") or []),
        )
        self._check_title_and_owner(form)
        self._check_hidden_fields(form)
        self._check_formula_cycles(form.fields, ("fields",))
        self._check_index_keys(form)
        self._check_parent_reads(form)
        return form

    # fields -------------------------------------------------------------------------

    def compile_fields(
        self, items: list[dict[str, Any]], path: PathKey, names: frozenset[str]
    ) -> tuple[Field, ...]:
        """Fields outside the form's own list (a record action's inputs), checked alike."""
        return self._fields(items, path, names, top_level=False)

    def _fields(
        self, items: list[dict[str, Any]], path: PathKey, names: frozenset[str], *, top_level: bool
    ) -> tuple[Field, ...]:
        seen: dict[str, int] = {}
        fields: list[Field] = []
        for index, item in enumerate(items):
            item_path = (*path, index)
            key = item["key"]
            if key in seen:
                self.error(
                    (*item_path, "key"),
                    f"duplicate field key '{key}' (first at field {seen[key] + 1})",
                )
                continue
            seen[key] = index
            if key in SYSTEM_FIELDS:
                self.error(
                    (*item_path, "key"),
                    f"'{key}' is a system field every form has; choose another key",
                )
                continue
            compiled = self._field(item, item_path, names, top_level=top_level)
            if compiled is not None:
                fields.append(compiled)
        renamed = [f for f in fields if f.renamed_from]
        for f in renamed:
            if f.renamed_from in seen:
                index = seen[f.key]
                self.error(
                    (*path, index, "renamed_from"),
                    f"renamed_from '{f.renamed_from}' names a field that still exists",
                )
        return tuple(fields)

    def _field(
        self, item: dict[str, Any], path: PathKey, names: frozenset[str], *, top_level: bool
    ) -> Field | None:
        field_type = self.context.field_types.get(item["type"])
        if field_type is None:
            self.error(
                (*path, "type"), unknown("field type", item["type"], self.context.field_types)
            )
            # Still a field: what names it (list, rules, other files) is not wrong as well.
            field_type = UNTYPED
        if field_type.options_schema is not None:
            self._check_plugin_options(field_type.name, field_type.options_schema, item, path)
        row_fields: tuple[Field, ...] = ()
        if field_type.kind is ValueKind.ROWS:
            row_keys = frozenset(f["key"] for f in item["fields"] if isinstance(f.get("key"), str))
            row_names = row_keys | CONTEXT_NAMES | {"parent"}
            row_fields = self._fields(item["fields"], (*path, "fields"), row_names, top_level=False)
        settings: dict[str, Any] = dict(
            key=item["key"],
            type=field_type.name,
            kind=field_type.value_kind(item),
            label=label(item["label"]),
            field_type=field_type,
            help=optional_label(item.get("help")),
            required=item.get("required", False),
            required_if=self._expression(item, "required_if", path, names),
            visible_if=self._expression(item, "visible_if", path, names),
            readonly=item.get("readonly", False) or field_type.computed,
            set_once=item.get("set_once", False),
            unique=item.get("unique", False),
            indexed=item.get("indexed", False),
            default=item.get("default"),
            default_expr=self._expression(item, "default_expr", path, names),
            renamed_from=item.get("renamed_from"),
            max_length=item.get("max_length"),
            min_length=item.get("min_length"),
            pattern=item.get("pattern"),
            text_format=item.get("format"),
            link_filter=tuple((item.get("link_filter") or {}).items()),
            fills=tuple((item.get("fills") or {}).items()),
            scale=item.get("scale", 0),
            grouping=item.get("grouping", True),
            minimum=item.get("min"),
            maximum=item.get("max"),
            options=tuple(
                Option(o["value"], label(o["label"]), o.get("color"), _former(o))
                for o in item.get("options", [])
            ),
            style=item.get("style"),
            min_items=item.get("min_items"),
            max_items=item.get("max_items"),
            target_form=item.get("form"),
            on_delete=OnDelete(item.get("on_delete", "restrict")),
            fields=row_fields,
            min_rows=item.get("min_rows"),
            max_rows=item.get("max_rows"),
            multiple=item.get("multiple", False),
            accept=tuple(item.get("accept", ())),
            expression=self._expression(item, "expression", path, names),
            settings=dict(item),
        )
        settings.update(field_type.settings(item))
        if item.get("fills") and not top_level:
            self.error(
                (*path, "fills"), "fills is for a form's own link fields, not a subtable row's"
            )
            settings["fills"] = ()
        field = Field(**settings)
        self._check_field(field, field_type, item, path)
        return field

    def _fills(self, fields: tuple[Field, ...]) -> tuple[Field, ...]:
        """Mark each field a link ``fills`` with where its value comes from, after checking
        it is a field people could otherwise fill in, and filled by one link only (whether
        the linked form has the field is checked once every form is compiled)."""
        by_key = {f.key: index for index, f in enumerate(fields)}
        filled: dict[str, tuple[str, str]] = {}
        for index, link in enumerate(fields):
            for ours, theirs in link.fills:
                path: PathKey = ("fields", index, "fills", ours)
                if ours not in by_key:
                    self.error(path, unknown("field", ours, list(by_key)))
                elif ours == link.key:
                    self.error(path, f"'{ours}' cannot fill itself")
                elif ours in filled:
                    self.error(path, f"'{ours}' is filled by '{filled[ours][0]}' already")
                elif fields[by_key[ours]].is_computed or fields[by_key[ours]].fills:
                    self.error(
                        path,
                        f"'{ours}' is worked out by the engine or fills others; "
                        "only a field people fill in can be filled",
                    )
                else:
                    filled[ours] = (link.key, theirs)
        if not filled:
            return fields
        return tuple(
            replace(f, filled_from=filled[f.key]) if f.key in filled else f for f in fields
        )

    def _check_plugin_options(
        self, type_name: str, options_schema: Mapping[str, Any], item: dict[str, Any], path: PathKey
    ) -> None:
        """A plugin type's own keys, checked against the schema the plugin gave for them."""
        own = {key: value for key, value in item.items() if key not in COMMON_FIELD_KEYS}
        for problem in Draft202012Validator(dict(options_schema)).iter_errors(own):
            where = (*path, *problem.absolute_path) if problem.absolute_path else path
            self.error(where, f"{type_name} field: {problem.message}")

    def _check_field(
        self, field: Field, field_type: FieldType, item: dict[str, Any], path: PathKey
    ) -> None:
        checks = FieldChecks(self, path)
        if field.kind.is_list:
            for key in ("unique", "indexed"):
                if item.get(key):
                    self.error(
                        (*path, key),
                        f"{key} does not apply to a {field.type} field: its values are lists, "
                        "which a database index cannot hold",
                    )
        field_type.check(field, item, checks)
        self._check_bounds(item, path)
        self._check_options(field, path)
        if "default" in item:
            field_type.check_default(field, item["default"], checks)

    def _check_bounds(self, item: dict[str, Any], path: PathKey) -> None:
        for low, high in (
            ("min", "max"),
            ("min_length", "max_length"),
            ("min_items", "max_items"),
            ("min_rows", "max_rows"),
        ):
            if (
                low in item
                and high in item
                and _comparable(item[low], item[high])
                and item[low] > item[high]
            ):
                self.error(
                    (*path, low), f"{low} ({item[low]}) is greater than {high} ({item[high]})"
                )

    def _check_options(self, field: Field, path: PathKey) -> None:
        seen: set[str] = set()
        for index, option in enumerate(field.options):
            if option.value in seen:
                self.error(
                    (*path, "options", index, "value"), f"duplicate option value '{option.value}'"
                )
            seen.add(option.value)
        claimed: set[str] = set()
        for index, option in enumerate(field.options):
            for former in option.renamed_from:
                where = (*path, "options", index, "renamed_from")
                if former in seen:
                    self.error(where, f"renamed_from '{former}' names an option that still exists")
                elif former in claimed:
                    self.error(where, f"renamed_from '{former}' is claimed by two options")
                claimed.add(former)

    def _expression(
        self, item: dict[str, Any], key: str, path: PathKey, names: frozenset[str]
    ) -> Expression | None:
        source = item.get(key)
        if source is None:
            return None
        return compile_expression(self, source, (*path, key), names)

    def _check_formula_cycles(self, fields: tuple[Field, ...], path: PathKey) -> None:
        formulas = {f.key: f for f in fields if f.expression is not None}
        positions = {f.key: i for i, f in enumerate(fields)}
        reads = {
            key: sorted(field.expression.names & formulas.keys())
            for key, field in formulas.items()
            if field.expression is not None
        }
        for circle in cycles(reads):
            self.error(
                (*path, positions[circle[-1]], "expression"),
                f"formula cycle: {' -> '.join([*circle, circle[0]])}",
            )

    def _check_parent_reads(self, form: Form) -> None:
        """A row reads the record as ``parent``: its fields other than formulas (worked
        out from the rows, after them) and its system fields; any other ``parent.x``
        would read as empty."""
        readable = {f.key for f in form.fields if f.expression is None} | SYSTEM_FIELDS.keys()
        positions = {f.key: i for i, f in enumerate(form.fields)}
        for subtable in form.fields:
            for number, row_field in enumerate(subtable.fields):
                for key, expression in _expressions(row_field):
                    path = ("fields", positions[subtable.key], "fields", number, key)
                    for name, attribute in sorted(expression.attributes):
                        if name != "parent" or attribute in readable:
                            continue
                        if form.has_field(attribute):
                            message = (
                                f"a row cannot read the formula 'parent.{attribute}': "
                                "the record's formulas are worked out from its rows, after them"
                            )
                        else:
                            message = f"unknown field 'parent.{attribute}'" + suggest(
                                attribute, readable
                            )
                        self.error(path, message)

    # form-level settings ------------------------------------------------------------

    def _rules(
        self, items: list[dict[str, Any]], fields: tuple[Field, ...], names: frozenset[str]
    ) -> tuple[FormRule, ...]:
        """The form's rules; each reads the record's fields (lookups and roll-ups too)."""
        rules: list[FormRule] = []
        keys = [f.key for f in fields]
        for path, item in keyed_items(items, ("rules",), "rule key", self.error):
            target = item.get("field")
            if target is not None and target not in keys:
                self.error((*path, "field"), unknown("field", target, keys))
            expression = compile_expression(self, item["expression"], (*path, "expression"), names)
            if expression is not None:
                rules.append(FormRule(item["key"], expression, label(item["message"]), target))
        return tuple(rules)

    def _check_hidden_fields(self, form: Form) -> None:
        """A field hidden from a role must not show through what every reader of the list
        gets: the record's title (links name records by it), the searched text, the
        list's filters and its default sort."""
        everyone_sees = {
            **{key.field: "in list.sort" for key in form.list_view.sort},
            **dict.fromkeys(form.list_view.filters, "in list.filters"),
            **dict.fromkeys(form.list_view.search, "searched (list.search)"),
            form.title_field: "the title_field",
        }
        for role, permission in form.permissions.items():
            for key, rule in permission.fields.items():
                if rule is FieldRule.HIDDEN and key in everyone_sees:
                    self.error(
                        ("permissions", role, "fields", key),
                        f"'{key}' cannot be hidden from '{role}': it is {everyone_sees[key]}",
                    )

    def _check_title_and_owner(self, form: Form) -> None:
        data = self.document.data
        if not form.has_field(form.title_field):
            self.error(
                ("title_field",), unknown("field", form.title_field, [f.key for f in form.fields])
            )
        elif form.field(form.title_field).kind.is_list:
            self.error(
                ("title_field",),
                f"title_field '{form.title_field}' must be a single value, not a {form.field(form.title_field).type}",
            )
        if "owner_field" in data:
            if not form.has_field(form.owner_field):
                self.error(
                    ("owner_field",),
                    unknown("field", form.owner_field, [f.key for f in form.fields]),
                )
            elif form.field(form.owner_field).field_type.reference is not Reference.USER:
                self.error(
                    ("owner_field",), f"owner_field '{form.owner_field}' must be a user field"
                )

    def _permissions(
        self, data: Mapping[str, Any], fields: tuple[Field, ...]
    ) -> dict[str, Permission]:
        permissions: dict[str, Permission] = {}
        field_keys = sorted(f.key for f in fields)
        for role, actions in data.items():
            if role not in self.context.role_keys:
                self.error(
                    ("permissions", role),
                    unknown("role", role, self.context.role_keys)
                    + " (declare it in app.yaml roles)",
                    at_key=True,
                )
                continue
            rules = actions.get("fields", {})
            for key in rules:
                if key not in field_keys:
                    self.error(
                        ("permissions", role, "fields", key),
                        unknown("field", key, field_keys),
                        at_key=True,
                    )
            permissions[role] = Permission(
                **{
                    action: Scope(scope)
                    for action, scope in actions.items()
                    if action not in ("fields", "reassign")
                },
                reassign=actions.get("reassign", False),
                fields={key: FieldRule(rule) for key, rule in rules.items()},
            )
        return permissions

    def _list_view(
        self,
        data: Mapping[str, Any],
        fields: tuple[Field, ...],
        names: frozenset[str],
        title_field: str = "",
    ) -> ListView:
        by_key = {f.key: f for f in fields}
        for part in ("columns", "filters", "search"):
            for index, key in enumerate(data.get(part, [])):
                self._check_list_key(part, index, key, by_key)
        sort = tuple(_sort_key(text) for text in data.get("sort", ["-id"]))
        for index, key in enumerate(sort):
            self._check_list_key("sort", index, key.field, by_key)
        default_columns = tuple(
            f.key for f in fields if f.kind not in (ValueKind.ROWS, ValueKind.FILES)
        )[:6]
        return ListView(
            columns=tuple(data.get("columns", default_columns)),
            sort=sort,
            filters=tuple(data.get("filters", ())),
            search=tuple(data.get("search", ())),
            page_size=data.get("page_size", 20),
            highlight=self._expression(dict(data), "highlight", ("list",), names),
            card=compile_card(self, data["card"], fields, title_field) if "card" in data else None,
        )

    def _check_list_key(self, part: str, index: int, key: str, by_key: Mapping[str, Field]) -> None:
        path = ("list", part, index)
        if key in SYSTEM_FIELDS:
            if part == "search":
                self.error(path, f"system field '{key}' cannot be searched")
            return
        field = by_key.get(key)
        if field is None:
            self.error(path, unknown("field", key, [*by_key, *SYSTEM_FIELDS]))
            return
        field_type = field.field_type
        if part == "search" and not field_type.searchable:
            searchable = ", ".join(self.context.field_types.searchable_names())
            self.error(path, f"'{key}' is a {field.type} field; search takes {searchable} fields")
        elif part == "filters" and not field_type.filterable:
            self.error(path, f"'{key}' is a {field.type} field, which cannot be filtered")
        elif part == "sort" and not field_type.sortable:
            self.error(path, f"'{key}' is a {field.type} field, which cannot be sorted")
        elif part == "columns" and field.kind is ValueKind.ROWS:
            self.error(path, f"'{key}' is a subtable; list columns show single values")

    def _indexes(self, items: Iterable[Mapping[str, Any]]) -> tuple[Index, ...]:
        return tuple(
            Index(
                tuple(_sort_key(text) for text in item["fields"]), unique=item.get("unique", False)
            )
            for item in items
        )

    def _check_index_keys(self, form: Form) -> None:
        for index_number, index in enumerate(form.indexes):
            for position, key in enumerate(index.keys):
                path = ("indexes", index_number, "fields", position)
                if key.field in SYSTEM_FIELDS:
                    continue
                if not form.has_field(key.field):
                    self.error(path, unknown("field", key.field, [f.key for f in form.fields]))
                elif form.field(key.field).kind.is_list:
                    self.error(
                        path,
                        f"'{key.field}' is a {form.field(key.field).type} field, which cannot be indexed",
                    )


def _expressions(field: Field) -> list[tuple[str, Expression]]:
    """A field's expressions, by the key they are written under."""
    found = {
        "visible_if": field.visible_if,
        "required_if": field.required_if,
        "default_expr": field.default_expr,
        "expression": field.expression,
    }
    return [(key, expression) for key, expression in found.items() if expression is not None]


def _former(option: Mapping[str, Any]) -> tuple[str, ...]:
    """An option's ``renamed_from``, written as one value or a list of them."""
    former = option.get("renamed_from", ())
    return (former,) if isinstance(former, str) else tuple(former)


def _sort_key(text: str) -> SortKey:
    return SortKey(text[1:], descending=True) if text.startswith("-") else SortKey(text)


def _comparable(low: Any, high: Any) -> bool:
    numeric = (int, float)
    both_numbers = isinstance(low, numeric) and isinstance(high, numeric)
    return both_numbers or (isinstance(low, str) and isinstance(high, str))
