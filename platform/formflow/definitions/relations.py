"""Roll-ups and lookups, checked and resolved once every form of the app is compiled.

A roll-up names another form, a link field of it and a field to aggregate; a lookup names a
link field of its own form and a field of the linked form. Neither can be checked while its
own file is compiled alone, and what they hold (a sum of money, a date, an option) is only
known from the field they come from. This pass checks every name, that the aggregate fits
the field (a sum of numbers, a minimum of something ordered), refuses values computed from
each other in a circle, and gives each field the kind, decimals and options of its source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from formflow.definitions.compiling import suggest, unknown
from formflow.definitions.cycles import cycles
from formflow.definitions.model import SYSTEM_FIELDS, Field, FieldRule, Form, Permission, Scope
from formflow.definitions.source import PathKey, SourceDocument
from formflow.errors import DefinitionError
from formflow.fields import Reference, ValueKind

_FILTER_OPS = frozenset(
    {
        "eq",
        "ne",
        "lt",
        "lte",
        "gt",
        "gte",
        "between",
        "in",
        "not_in",
        "is_empty",
        "is_not_empty",
        "contains",
        "starts_with",
        "ends_with",
        "has_any",
        "has_all",
    }
)
_COPIED = ("scale", "currency", "options", "result_type", "max_length", "style", "grouping")

Node = tuple[str, str]
"""A value of the app: (form key, field key)."""


class Relations:
    """Checks the roll-ups and lookups of ``forms``; errors go to ``errors`` at their place in
    the form's file (``documents``, by form key)."""

    def __init__(
        self,
        forms: Mapping[str, Form],
        documents: Mapping[str, SourceDocument],
        errors: list[DefinitionError],
        declared: frozenset[str] = frozenset(),
    ) -> None:
        self.forms = forms
        self.declared = declared
        """Form keys whose files report their own problems: not unknown, only not compiled."""
        self.documents = documents
        self.errors = errors
        self.resolved: dict[Node, Field] = {}
        self.failed: set[Node] = set()

    def resolve(self) -> dict[str, Form]:
        """The forms with every roll-up and lookup resolved (unchanged where one failed)."""
        for form in self.forms.values():
            self._check_rows(form)
            for field in form.fields:
                if field.link_filter:
                    self._check_link_filter(form, field)
                if field.fills:
                    self._check_fills(form, field)
                for row_field in field.fields:
                    if row_field.link_filter:
                        self._check_row_link_filter(form, field, row_field)
            for field in form.fields:
                if field.is_derived:
                    self._resolve(form, field)
        self._check_cycles()
        self._check_hidden_reads()
        self._check_hidden_conditions()
        self._check_hidden_link_filters()
        resolved: dict[str, Form] = {}
        for key, form in self.forms.items():
            fields = tuple(self.resolved.get((key, f.key), f) for f in form.fields)
            resolved[key] = replace(form, fields=fields) if fields != form.fields else form
        return resolved

    # one field ----------------------------------------------------------------------

    def _error(self, form: Form, field: Field, key: str, message: str) -> None:
        document = self.documents.get(form.key)
        if document is None:
            return
        index = [f.key for f in form.fields].index(field.key)
        path: PathKey = ("fields", index, key)
        self.errors.append(document.error_at_value(path, message))

    def _check_link_filter(self, form: Form, field: Field) -> None:
        """Each pair of a link's ``link_filter`` names a field of the linked form and a
        field of this one, which must hold the same kind of value to be compared."""
        target = self.forms.get(str(field.target_form))
        if target is None:
            return
        for theirs, ours in field.link_filter:
            if not target.has_field(theirs):
                known = [f.key for f in target.fields]
                self._error(form, field, "link_filter", unknown("field", theirs, known))
            elif not form.has_field(ours):
                known = [f.key for f in form.fields]
                self._error(form, field, "link_filter", unknown("field", ours, known))
            elif (target.field(theirs).kind, target.field(theirs).target_form) != (
                form.field(ours).kind,
                form.field(ours).target_form,
            ):
                self._error(
                    form,
                    field,
                    "link_filter",
                    f"'{theirs}' and '{ours}' hold different kinds of values",
                )

    def _check_fills(self, form: Form, field: Field) -> None:
        """Each field a link fills comes from a field of the linked form holding the same
        kind of value (a money from a money, a member from a member)."""
        target = self.forms.get(str(field.target_form))
        if target is None:
            return
        for ours, theirs in field.fills:
            if not target.has_field(theirs) and theirs not in SYSTEM_FIELDS:
                known = [f.key for f in target.fields]
                self._error(form, field, "fills", unknown("field", theirs, known))
            elif form.has_field(ours) and target.has_field(theirs):
                source = self._source(target, theirs) or target.field(theirs)
                mine = form.field(ours)
                if source.kind.is_list or (source.kind, source.target_form) != (
                    mine.kind,
                    mine.target_form,
                ):
                    self._error(
                        form,
                        field,
                        "fills",
                        f"'{ours}' cannot be filled from '{theirs}': they hold different "
                        "kinds of values",
                    )

    def _check_row_link_filter(self, form: Form, subtable: Field, row_field: Field) -> None:
        """A subtable row's link may be narrowed by a field of its own row or, written
        ``parent.FIELD``, by a field of the record the row belongs to."""
        target = self.forms.get(str(row_field.target_form))
        document = self.documents.get(form.key)
        if target is None or document is None:
            return
        index = [f.key for f in form.fields].index(subtable.key)
        row_index = [f.key for f in subtable.fields].index(row_field.key)
        path: PathKey = ("fields", index, "fields", row_index, "link_filter")
        for theirs, ours in row_field.link_filter:
            owner, key = (
                (form, ours[len("parent.") :]) if ours.startswith("parent.") else (None, ours)
            )
            mine = (
                owner.field(key)
                if owner is not None and owner.has_field(key)
                else subtable.subfield(key)
                if owner is None and any(f.key == key for f in subtable.fields)
                else None
            )
            if not target.has_field(theirs):
                known = [f.key for f in target.fields]
                self.errors.append(document.error_at_value(path, unknown("field", theirs, known)))
            elif mine is None:
                known = [f.key for f in subtable.fields] + [f"parent.{f.key}" for f in form.fields]
                self.errors.append(document.error_at_value(path, unknown("field", ours, known)))
            elif (target.field(theirs).kind, target.field(theirs).target_form) != (
                mine.kind,
                mine.target_form,
            ):
                message = f"'{theirs}' and '{ours}' hold different kinds of values"
                self.errors.append(document.error_at_value(path, message))

    def _resolve(self, form: Form, field: Field) -> Field | None:
        node = (form.key, field.key)
        if node in self.resolved:
            return self.resolved[node]
        if node in self.failed:
            return None
        self.failed.add(node)  # until resolved: a circle reads as a failure, reported later
        found = self._rollup(form, field) if field.rollup else self._lookup(form, field)
        if found is not None:
            self.failed.discard(node)
            self.resolved[node] = found
        return found

    def _source(self, form: Form, key: str) -> Field | None:
        """A field of ``form`` as it will be stored, derived ones resolved first."""
        if not form.has_field(key):
            return None
        field = form.field(key)
        return self._resolve(form, field) if field.is_derived else field

    def _read_field(self, form: Form, field: Field, source_form: Form, key: str) -> Field | None:
        """The field ``key`` of ``source_form`` that ``field`` (of ``form``) shows, resolved;
        an unknown one is reported at ``field`` (a derived one that failed says so itself)."""
        source = self._source(source_form, key)
        if source is None and not source_form.has_field(key):
            known = [f.key for f in source_form.fields]
            self._error(form, field, "field", unknown("field", key, known))
        return source

    def _rollup(self, form: Form, field: Field) -> Field | None:
        rollup = field.rollup
        assert rollup is not None
        source_form = self.forms.get(rollup.form)
        if source_form is None:
            if rollup.form not in self.declared:
                self._error(form, field, "form", unknown("form", rollup.form, self.forms))
            return None
        link = source_form.field(rollup.link) if source_form.has_field(rollup.link) else None
        if link is None or not link.is_link or link.target_form != form.key:
            links = [f.key for f in source_form.link_fields() if f.target_form == form.key]
            what = "no field" if link is None else "not a link to this form"
            hint = f"; its links to {form.key}: {', '.join(links)}" if links else ""
            self._error(
                form,
                field,
                "link",
                f"'{rollup.link}' of form '{rollup.form}' is {what}{hint or suggest(rollup.link, links)}",
            )
            return None
        self._check_filter(form, field, source_form, rollup.filter)
        if rollup.aggregate == "latest":
            self._check_by(form, field, source_form, rollup.by)
        if rollup.field is None:
            if rollup.aggregate != "count":
                self._error(form, field, "aggregate", f"{rollup.aggregate} needs a field")
                return None
            return replace(field, kind=ValueKind.INTEGER, scale=0)
        source = self._read_field(form, field, source_form, rollup.field)
        if source is None:
            return None
        problem = _aggregate_problem(rollup.aggregate, source)
        if problem is not None:
            self._error(form, field, "aggregate", problem)
            return None
        if rollup.aggregate == "count":
            return replace(field, kind=ValueKind.INTEGER, scale=0)
        return _shown_as(field, source)

    def _lookup(self, form: Form, field: Field) -> Field | None:
        lookup = field.lookup
        assert lookup is not None
        link = form.field(lookup.link) if form.has_field(lookup.link) else None
        if link is not None and link.is_link and link.target_form not in self.forms:
            return None  # the linked form has errors of its own (or is unknown: said there)
        if link is None or not link.is_link:
            links = [f.key for f in form.link_fields()]
            what = unknown("link field", lookup.link, links)
            self._error(
                form, field, "link", what if link is None else f"'{lookup.link}' is not a link"
            )
            return None
        target = self.forms[str(link.target_form)]
        source = self._read_field(form, field, target, lookup.field)
        if source is None:
            return None
        if source.kind.is_list or source.field_type.reference is Reference.RECORD:
            self._error(
                form,
                field,
                "field",
                f"a lookup shows a single value; '{lookup.field}' is a {source.type} field",
            )
            return None
        return _shown_as(field, source)

    def _check_by(self, form: Form, field: Field, source_form: Form, by: str) -> None:
        kind = SYSTEM_FIELDS.get(by)
        if kind is None and source_form.has_field(by):
            kind = source_form.field(by).kind
        if kind is None:
            known = [*(f.key for f in source_form.fields), *SYSTEM_FIELDS]
            self._error(form, field, "by", unknown("field", by, known))
        elif not kind.is_ordered:
            self._error(
                form, field, "by", f"latest orders by a number, date or date-time, not '{by}'"
            )

    def _check_filter(
        self, form: Form, field: Field, source_form: Form, spec: Any, depth: int = 0
    ) -> None:
        if spec is None:
            return
        for key, op in _conditions(spec):
            name = key.partition(".")[0]
            if name not in SYSTEM_FIELDS and not source_form.has_field(name):
                known = [*(f.key for f in source_form.fields), *SYSTEM_FIELDS]
                self._error(form, field, "filter", "filter: " + unknown("field", name, known))
            elif op not in _FILTER_OPS:
                self._error(form, field, "filter", f"filter: unknown operator '{op}'")

    # the app ------------------------------------------------------------------------

    def _check_rows(self, form: Form) -> None:
        for subtable in form.fields:
            for row_field in subtable.fields:
                if row_field.is_derived:
                    self._error(
                        form,
                        subtable,
                        "fields",
                        f"'{row_field.key}': a {row_field.type} field belongs to a form, not a subtable row",
                    )

    def _check_cycles(self) -> None:
        edges = {node: sorted(self._reads(node)) for node in self._nodes()}
        reported: set[frozenset[Node]] = set()
        for circle in cycles(edges):
            cycle = [circle[-1], *circle]
            derived = any(self.forms[f].field(k).is_derived for f, k in cycle)
            if derived and frozenset(cycle) not in reported:  # formulas alone: said
                reported.add(frozenset(cycle))
                node = circle[-1]
                form = self.forms[node[0]]
                shown = " -> ".join(f"{f}.{k}" for f, k in cycle)
                where = "form" if form.field(node[1]).rollup else "link"
                where = "expression" if form.field(node[1]).is_formula else where
                self._error(
                    form, form.field(node[1]), where, f"values computed in a circle: {shown}"
                )

    def _check_hidden_reads(self) -> None:
        """A formula, lookup or roll-up computed from a field hidden from a role shows that
        field to the role unless it is hidden too: ``list_price - floor_price`` tells the
        floor price to whoever sees the margin. Each such field is reported once, naming
        the role and the hidden field it reads (directly or through other computed ones)."""
        for node in self._nodes():
            form = self.forms[node[0]]
            field = form.field(node[1])
            read = self._reads_through(node)
            for role, permission in form.permissions.items():
                if (
                    permission.read is Scope.NONE
                    or permission.field_rule(field.key) is FieldRule.HIDDEN
                ):
                    continue
                hidden = sorted(
                    (source, key)
                    for source, key in read
                    if self.forms[source].permission(role).field_rule(key) is FieldRule.HIDDEN
                )
                if hidden:
                    source, key = hidden[0]
                    shown = key if source == form.key else f"{source}.{key}"
                    self._error(
                        form,
                        field,
                        "key",
                        f"'{field.key}' is computed from '{shown}', which is hidden from"
                        f" '{role}'; hide '{field.key}' from '{role}' too",
                    )
                    break

    def _check_hidden_conditions(self) -> None:
        """A condition reading a field hidden from a role tells the role about that field
        through what it does: a field shown or required only when ``floor_price > 0``, a
        rule's message, a record turned read-only. So a visible field's ``visible_if`` and
        ``required_if`` may not read a field hidden from a role that sees it, nor a rule
        (or ``readonly_if``) one hidden from a role that may write the records."""
        for form in self.forms.values():
            self._check_hidden_row_reads(form)
            for field in form.fields:
                for setting in ("visible_if", "required_if", "default_expr"):
                    expression = getattr(field, setting)
                    if expression is None:
                        continue
                    for role, shown in self._hidden_names(form, expression.names, _reads):
                        if form.permission(role).field_rule(field.key) is not FieldRule.HIDDEN:
                            self._error(
                                form,
                                field,
                                setting,
                                f"'{setting}' of '{field.key}' reads '{shown}', which is hidden"
                                f" from '{role}'; hide '{field.key}' from '{role}' too",
                            )
                            break
            for index, rule in enumerate(form.rules):
                for role, shown in self._hidden_names(form, rule.expression.names, _writes):
                    self._form_error(
                        form,
                        ("rules", index, "expression"),
                        f"rule '{rule.key}' reads '{shown}', which is hidden from '{role}', who"
                        " may write these records: its message would tell them about it",
                    )
                    break
            if form.readonly_if is not None:
                for role, shown in self._hidden_names(form, form.readonly_if.names, _writes):
                    self._form_error(
                        form,
                        ("readonly_if",),
                        f"'readonly_if' reads '{shown}', which is hidden from '{role}', who may"
                        " write these records: which ones they may not change would tell it",
                    )
                    break

    def _check_hidden_row_reads(self, form: Form) -> None:
        """A subtable row's condition, default or formula reading ``parent.FIELD`` hidden
        from a role that sees the subtable tells the role that field through the rows, as
        the record's own conditions would: hide the subtable from the role too."""
        for index, subtable in enumerate(form.fields):
            for row, row_field in enumerate(subtable.fields):
                for setting in ("visible_if", "required_if", "default_expr", "expression"):
                    expression = getattr(row_field, setting)
                    if expression is None:
                        continue
                    parent = frozenset(a for n, a in expression.attributes if n == "parent")
                    for role, shown in self._hidden_names(form, parent, _reads):
                        if form.permission(role).field_rule(subtable.key) is FieldRule.HIDDEN:
                            continue
                        self._form_error(
                            form,
                            ("fields", index, "fields", row, setting),
                            f"'{setting}' of '{subtable.key}.{row_field.key}' reads"
                            f" 'parent.{shown}', which is hidden from '{role}'; hide"
                            f" '{subtable.key}' from '{role}' too",
                        )
                        break

    def _check_hidden_link_filters(self) -> None:
        """A link narrowed by a field of the linked form hidden from a role that may write
        this form tells that role the hidden value: the picker offers only the records whose
        field holds what they typed in the narrowing field, a save is refused unless it
        does, and an empty narrowing field is filled with it. So a ``link_filter`` (a
        subtable row link's too) may not compare a field hidden from such a role."""
        for form in self.forms.values():
            for index, field in enumerate(form.fields):
                links: list[tuple[PathKey, Field]] = [(("fields", index, "link_filter"), field)]
                links += [
                    (("fields", index, "fields", row, "link_filter"), row_field)
                    for row, row_field in enumerate(field.fields)
                ]
                for path, link in links:
                    for role, theirs in self._hidden_narrowing(form, link):
                        self._form_error(
                            form,
                            path,
                            f"'link_filter' of '{link.key}' compares '{link.target_form}."
                            f"{theirs}', which is hidden from '{role}', who may write these"
                            " records: the records offered would tell it",
                        )
                        break

    def _hidden_narrowing(self, form: Form, link: Field) -> Iterator[tuple[str, str]]:
        """Each role that may write ``form`` from which a field of the linked form that
        ``link``'s ``link_filter`` compares is hidden, with that field."""
        target = self.forms.get(str(link.target_form))
        if target is None or not link.link_filter:
            return
        for role, permission in form.permissions.items():
            if not _writes(role, permission):
                continue
            hidden = [
                theirs
                for theirs, _ours in link.link_filter
                if target.permission(role).field_rule(theirs) is FieldRule.HIDDEN
            ]
            if hidden:
                yield role, hidden[0]

    def _hidden_names(
        self, form: Form, names: frozenset[str], concerned: Callable[[str, Permission], bool]
    ) -> Iterator[tuple[str, str]]:
        """Each ``concerned`` role of ``form`` from which a field that ``names`` read
        (directly or through computed fields) is hidden, with that field."""
        read: set[Node] = set()
        for name in names:
            if form.has_field(name):
                read |= {(form.key, name), *self._reads_through((form.key, name))}
        for role, permission in form.permissions.items():
            hidden = sorted(
                (source, key)
                for source, key in read
                if self.forms[source].permission(role).field_rule(key) is FieldRule.HIDDEN
            )
            if hidden and concerned(role, permission):
                source, key = hidden[0]
                yield role, key if source == form.key else f"{source}.{key}"

    def _form_error(self, form: Form, path: PathKey, message: str) -> None:
        document = self.documents.get(form.key)
        if document is not None:
            self.errors.append(document.error_at_value(path, message))

    def _reads_through(self, node: Node) -> set[Node]:
        """Every field ``node`` reads, directly or through the computed fields it reads."""
        found: set[Node] = set()
        waiting = [node]
        while waiting:
            for read in self._reads(waiting.pop()):
                if read in found or read[0] not in self.forms:
                    continue
                found.add(read)
                source = self.forms[read[0]]
                if source.has_field(read[1]) and (
                    source.field(read[1]).is_derived or source.field(read[1]).is_formula
                ):
                    waiting.append(read)
        return found

    def _nodes(self) -> Iterator[Node]:
        for form in self.forms.values():
            for field in form.fields:
                if field.is_derived or field.is_formula:
                    yield (form.key, field.key)

    def _reads(self, node: Node) -> set[Node]:
        form = self.forms[node[0]]
        field = form.field(node[1])
        if field.expression is not None:
            return {(form.key, name) for name in field.expression.names if form.has_field(name)}
        if field.lookup is not None:
            link = form.field(field.lookup.link) if form.has_field(field.lookup.link) else None
            target = link.target_form if link is not None else None
            return {(target, field.lookup.field)} if target is not None else set()
        rollup = field.rollup
        if rollup is None or rollup.form not in self.forms:
            return set()
        source = self.forms[rollup.form]
        names = {
            rollup.field,
            rollup.by,
            *(key.partition(".")[0] for key, _op in _conditions(rollup.filter)),
        }
        return {(source.key, name) for name in names if name and source.has_field(name)}


def _reads(_role: str, permission: Permission) -> bool:
    return permission.read is not Scope.NONE


def _writes(_role: str, permission: Permission) -> bool:
    return permission.create is not Scope.NONE or permission.update is not Scope.NONE


def _conditions(spec: Any) -> Iterator[tuple[str, str]]:
    """The (field, operator) of every condition of a structured filter."""
    if not isinstance(spec, Mapping):
        return
    for group in ("and", "or"):
        if isinstance(spec.get(group), list):
            for item in spec[group]:
                yield from _conditions(item)
            return
    if "not" in spec:
        yield from _conditions(spec["not"])
        return
    yield str(spec.get("field")), str(spec.get("op"))


def _aggregate_problem(aggregate: str, source: Field) -> str | None:
    """Why ``aggregate`` cannot apply to ``source``, if it cannot."""
    kind = source.kind
    if kind.is_list:
        return f"a roll-up cannot {aggregate} a {source.type} field ('{source.key}')"
    if aggregate == "sum" and not kind.is_numeric:
        return f"sum needs a number or money field; '{source.key}' is a {source.type} field"
    if aggregate in ("min", "max") and not kind.is_ordered:
        return f"{aggregate} needs a number, money, date or date-time field; '{source.key}' is a {source.type} field"
    if aggregate == "latest" and source.field_type.reference is Reference.RECORD:
        return f"latest cannot take a link field ('{source.key}')"
    return None


def _shown_as(field: Field, source: Field) -> Field:
    """``field`` holding values like ``source``'s, shown and filtered as they are."""
    origin = source.source if source.is_derived and source.source is not None else source
    copied = {name: getattr(source, name) for name in _COPIED}
    return replace(field, kind=source.kind, source=origin, **copied)


filter_conditions = _conditions
"""The (field, operator) of every condition of a structured filter, for other compilers."""
