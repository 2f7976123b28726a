"""The structured filter language, compiled to one SQLAlchemy boolean clause.

A filter is data, never SQL: ``{"and": [...]}``, ``{"or": [...]}``, ``{"not": f}`` and
conditions ``{"field": KEY, "op": OP, "value": V}``. Field keys are looked up in the
compiled model, so only known column names reach SQL, and every value is converted to the
field's kind and bound as a parameter. A key may follow one link (``account.level``),
which becomes ``account IN (SELECT id FROM <account> WHERE ...)`` over the target's live
rows.

The module also holds what the list, search and aggregate modules share with it: looking
up a field for a purpose (:func:`resolve_field`), converting a value to a field's kind
(:func:`coerce_value`), and SQL written per database (:class:`DialectSwitch`).

Empty values follow what people mean rather than SQL's three-valued logic: ``ne`` and
``not_in`` match records where the field is empty ("stage is not won" includes deals with
no stage), and ``not`` is the exact complement of what it wraps.

Anything wrong (an unknown field, an operator that does not fit, a value that does not
convert, a filter too big) raises :class:`QueryError` naming the field and saying what
would work instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, UnaryExpression
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeEngine

from formflow.definitions.model import SYSTEM_FIELDS, Field
from formflow.errors import N_, QueryError
from formflow.fields import LONG_TEXT, Purpose, Reference, ValueKind
from formflow.fields.values import filter_value
from formflow.storage.platform_tables import stage_stays
from formflow.storage.stays import tracked_fields
from formflow.storage.tables import DELETED_AT, AppSchema

MAX_DEPTH = 10
MAX_CONDITIONS = 100
MAX_VALUES = 1000

COMMON_OPS = ("eq", "ne", "in", "not_in", "is_empty", "is_not_empty")
TEXT_OPS = ("eq", "ne", "contains", "starts_with", "ends_with", *COMMON_OPS[2:])
ORDERED_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "between", *COMMON_OPS[2:])
CHOICE_OPS = ("has_any", "has_all", "is_empty", "is_not_empty")
_LIST_OPS = frozenset({"in", "not_in", "has_any", "has_all"})
EVER = "ever"
"""Once held one of the values: a stage field whose stays are kept."""
FILTER = "filter"
"""What a problem with the filter as a whole names as its field: the parameter."""
_ORDERED_KINDS = frozenset(
    {ValueKind.INTEGER, ValueKind.DECIMAL, ValueKind.DATE, ValueKind.DATETIME}
)
_CONDITION_KEYS = frozenset({"field", "op", "value"})


# fields -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    """A field or system field of one form, looked up in the compiled model.

    ``shown`` is the key as the caller wrote it (``account.level`` for a linked field), so
    messages point at what the person typed.
    """

    key: str
    shown: str
    kind: ValueKind
    column: Column[Any]
    field: Field | None = None

    @property
    def type_name(self) -> str:
        return self.field.type if self.field else self.kind.value

    @property
    def options(self) -> tuple[str, ...]:
        return self.field.option_values if self.field else ()


_CANNOT = {
    "filter": N_("%(type)s field '%(field)s' cannot be filtered"),
    "sort": N_("%(type)s field '%(field)s' cannot be sorted"),
    "read": N_("%(type)s field '%(field)s' cannot be read"),
}


def describe(ref: FieldRef) -> dict[str, str]:
    """The ``type`` and ``field`` parameters a message names the field by (``%(type)s
    field '%(field)s'``): message ids, not English sentences, reach the web edge."""
    return {"type": ref.type_name, "field": ref.shown}


def sortable(schema: AppSchema, form_key: str, key: str) -> bool:
    """Whether records of ``form_key`` can be sorted by ``key`` (a field or system field)."""
    try:
        resolve_field(schema, form_key, key, purpose="sort")
    except QueryError:
        return False
    return True


def resolve_field(
    schema: AppSchema, form_key: str, key: str, *, purpose: str, shown: str | None = None
) -> FieldRef:
    """The field ``key`` of ``form_key``, checked to allow ``purpose`` (filter, sort, read)."""
    form, table = schema.app.form(form_key), schema.table(form_key)
    shown = shown or key
    if key in SYSTEM_FIELDS:
        return FieldRef(key, shown, SYSTEM_FIELDS[key], table.c[key])
    if not form.has_field(key):
        known = [*(f.key for f in form.fields), *SYSTEM_FIELDS]
        match = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
        if match:
            raise QueryError(
                N_("unknown field '%(key)s' in form '%(form)s'; did you mean '%(match)s'?"),
                field=shown,
                key=shown,
                form=form_key,
                match=match[0],
            )
        raise QueryError(
            N_("unknown field '%(key)s' in form '%(form)s'"), field=shown, key=shown, form=form_key
        )
    field = form.field(key)
    if field.kind is ValueKind.ROWS or not _allows(field, purpose):
        raise QueryError(_CANNOT[purpose], field=shown, type=field.type)
    return FieldRef(key, shown, field.kind, table.c[key], field)


def _allows(field: Field, purpose: str) -> bool:
    """What the field's type allows."""
    if purpose == "filter":
        return field.field_type.filterable
    if purpose == "sort":
        return field.field_type.sortable
    return True


# values -------------------------------------------------------------------------

MAX_TEXT = LONG_TEXT  # the longest text a sortable (non-Text) column holds


def coerce_value(ref: FieldRef, value: Any, *, check_options: bool = True) -> Any:
    """``value`` converted to the field's kind, as the database compares it.

    Naive date-times are taken as UTC, the zone Formflow stores; ``check_options`` is off
    when reading back a stored value, which may be an option the definition has since lost.
    """
    if value is None:
        raise QueryError(
            N_("%(type)s field '%(field)s' needs a value here; use is_empty to find empty ones"),
            **describe(ref),
        )
    try:
        converted = (
            ref.field.field_type.parse(ref.field, value, Purpose.FILTER)
            if ref.field is not None
            else filter_value(ref.kind, value)
        )
    except (TypeError, ValueError, ArithmeticError, KeyError):
        raise QueryError(
            _EXPECTED.get(ref.kind, _NOT_A_VALUE),
            value=f"{value!r:.60}",
            limit=MAX_TEXT,
            **describe(ref),
        ) from None
    if check_options and ref.options and converted not in ref.options:
        raise QueryError(
            N_("%(value)s is not an option of %(type)s field '%(field)s'; use one of %(options)s"),
            value=f"{value!r:.60}",
            options=", ".join(ref.options),
            **describe(ref),
        )
    return converted


_NOT_A_VALUE = N_("%(value)s is not a value, as %(type)s field '%(field)s' needs")
_EXPECTED = {
    ValueKind.TEXT: N_(
        "%(value)s is not text of at most %(limit)s characters, as %(type)s field '%(field)s' needs"
    ),
    ValueKind.INTEGER: N_("%(value)s is not a whole number, as %(type)s field '%(field)s' needs"),
    ValueKind.DECIMAL: N_("%(value)s is not a number, as %(type)s field '%(field)s' needs"),
    ValueKind.DATE: N_(
        "%(value)s is not a date written YYYY-MM-DD, as %(type)s field '%(field)s' needs"
    ),
    ValueKind.DATETIME: N_(
        "%(value)s is not a date and time written like 2026-01-31T09:30:00+08:00, "
        "as %(type)s field '%(field)s' needs"
    ),
    ValueKind.BOOL: N_("%(value)s is not true or false, as %(type)s field '%(field)s' needs"),
    ValueKind.REFERENCE: N_(
        "%(value)s is not a record id (a positive whole number), "
        "as %(type)s field '%(field)s' needs"
    ),
    ValueKind.CHOICES: N_("%(value)s is not an option value, as %(type)s field '%(field)s' needs"),
}
"""What a value that does not convert is told, by the kind the field holds."""


# dialects -----------------------------------------------------------------------


class DialectSwitch(ColumnElement[Any]):
    """One expression written once per database, picked when the statement is compiled.

    Filters are compiled without a connection, so SQL that differs between SQLite and
    PostgreSQL (JSON arrays, full-text search, date formatting, NULL ordering) is chosen
    by SQLAlchemy's compiler. ``grouped`` wraps the chosen SQL in parentheses, which every
    expression needs inside AND/OR and an ORDER BY item must not have. Both choices are
    part of the cache key, so statements holding one are compiled once, like any other
    (an engine's compiled-SQL cache is for its one dialect).
    """

    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's own class attribute)
        ("type", InternalTraversal.dp_type),
        ("sqlite", InternalTraversal.dp_clauseelement),
        ("postgresql", InternalTraversal.dp_clauseelement),
        ("grouped", InternalTraversal.dp_boolean),
    ]

    def __init__(
        self,
        type_: TypeEngine[Any],
        *,
        sqlite: ColumnElement[Any] | UnaryExpression[Any],
        postgresql: ColumnElement[Any] | UnaryExpression[Any],
        grouped: bool = True,
    ) -> None:
        self.type = type_
        self.sqlite = sqlite
        self.postgresql = postgresql
        self.grouped = grouped


@compiles(DialectSwitch)
def _compile_switch(element: DialectSwitch, compiler: SQLCompiler, **kw: Any) -> str:
    name = compiler.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"Formflow has no SQL for {name}")
    chosen = element.sqlite if name == "sqlite" else element.postgresql
    sql = compiler.process(chosen, **kw)
    return f"({sql})" if element.grouped else sql


# bound values -------------------------------------------------------------------


class Binder:
    """A statement's values as named bound parameters, so that it can be built once and
    run with other values (see :class:`~formflow.records.query.PageStatements`).

    Filled while a filter is compiled: ``values`` by name, and ``shape``, what besides
    the spec's fields and operators made the SQL what it is (a ``between`` whose low is
    above its high is no range at all). ``shareable`` turns false when the clause holds
    values that are not bound parameters (a condition across a link, whose permission
    condition carries the reader's values; JSON-array operators), and such a clause must
    not serve another request.

    A ``dry`` binder checks the filter and collects its values and shape without building
    any SQL (the clause it returns means nothing): what a request needs whose statement is
    already built. A second, wet walk of the same filter binds the same names.
    """

    def __init__(self, *, dry: bool = False) -> None:
        self.values: dict[str, Any] = {}
        self.shape: list[Any] = []
        self.shareable = True
        self.dry = dry

    def __call__(
        self, value: Any, type_: TypeEngine[Any], *, expanding: bool = False
    ) -> BindParameter[Any]:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return _DRY_PARAMETER if self.dry else bindparam(name, type_=type_, expanding=expanding)


_DRY_PARAMETER: BindParameter[Any] = bindparam("dry")
_DRY = true()
"""What a dry walk returns in place of a clause."""


# filters ------------------------------------------------------------------------


def operators(ref: FieldRef) -> tuple[str, ...]:
    """The operators a field accepts, in the order they are suggested to people.

    A select field is text, but compares as a whole option value, so it takes no
    ``contains``; a multiselect is a set of options, asked about with ``has_any``/``has_all``.
    """
    if ref.kind is ValueKind.CHOICES:
        return CHOICE_OPS
    if ref.kind is ValueKind.TEXT and not ref.options:
        return TEXT_OPS
    if ref.kind in _ORDERED_KINDS:
        return ORDERED_OPS
    return COMMON_OPS


LinkScope = Callable[[str], "ColumnElement[bool] | None"]
"""The permission condition on a linked form's table, so that a filter across a link only
looks at linked records the person may read (a filter must not reveal what a page hides)."""


def compile_filter(
    schema: AppSchema,
    form_key: str,
    spec: Mapping[str, Any] | None,
    *,
    link_scope: LinkScope | None = None,
    bind: Binder | None = None,
) -> ColumnElement[bool] | None:
    """The filter ``spec`` on ``form_key`` as one boolean clause; ``None`` when it is empty.

    With ``bind``, every value is a named bound parameter held by ``bind`` and the clause
    holds no value of its own (unless ``bind.shareable`` turns false).
    """
    if spec is None or (isinstance(spec, Mapping) and not spec):
        return None
    return _Compiler(schema, form_key, link_scope, bind).node(spec, depth=1)


class _Compiler:
    """Walks one filter, counting conditions so an oversized filter fails before any SQL."""

    def __init__(
        self,
        schema: AppSchema,
        form_key: str,
        link_scope: LinkScope | None,
        bind: Binder | None = None,
    ) -> None:
        self.schema = schema
        self.form_key = form_key
        self.link_scope = link_scope
        self.bind = bind
        self.conditions = 0

    def node(self, spec: Any, depth: int) -> ColumnElement[bool]:
        if not isinstance(spec, Mapping):
            raise QueryError(
                N_(
                    "a filter must be an object such as "
                    "{'field': 'name', 'op': 'eq', 'value': 'x'}, not %(given)s"
                ),
                field=FILTER,
                given=f"{spec!r:.100}",
            )
        if depth > MAX_DEPTH:
            raise QueryError(
                N_("the filter nests more than %(limit)s levels deep; simplify it"),
                field=FILTER,
                limit=MAX_DEPTH,
            )
        groups = [key for key in ("and", "or", "not") if key in spec]
        if not groups:
            return self.condition(spec)
        if self.bind is not None:
            items = spec[groups[0]]
            self.bind.shape.append((groups[0], len(items) if isinstance(items, Sequence) else 0))
        if len(spec) != 1:
            raise QueryError(
                N_("a filter group has exactly one key ('and', 'or' or 'not'), found %(keys)s"),
                field=FILTER,
                keys=sorted(map(str, spec)),
            )
        if groups[0] == "not":
            inner = self.node(spec["not"], depth + 1)
            if self.bind is not None and self.bind.dry:
                return _DRY
            # A condition on an empty value is unknown (NULL); NOT of it must select the row.
            return not_(func.coalesce(inner, false()))
        return self.group(groups[0], spec[groups[0]], depth)

    def group(self, name: str, items: Any, depth: int) -> ColumnElement[bool]:
        if not isinstance(items, Sequence) or isinstance(items, str):
            raise QueryError(N_("'%(group)s' takes a list of filters"), field=FILTER, group=name)
        if len(items) > MAX_CONDITIONS:
            raise QueryError(
                N_("'%(group)s' holds more than %(limit)s filters; simplify it"),
                field=FILTER,
                group=name,
                limit=MAX_CONDITIONS,
            )
        clauses = [self.node(item, depth + 1) for item in items]
        if self.bind is not None and self.bind.dry:
            return _DRY
        # true()/false() vanish beside other clauses and stand for an empty group.
        return and_(true(), *clauses) if name == "and" else or_(false(), *clauses)

    def condition(self, spec: Mapping[str, Any]) -> ColumnElement[bool]:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise QueryError(
                N_("the filter has more than %(limit)s conditions; simplify it"),
                field=FILTER,
                limit=MAX_CONDITIONS,
            )
        key, op = spec.get("field"), spec.get("op")
        unknown = sorted(map(str, set(spec) - _CONDITION_KEYS))
        if unknown or not isinstance(key, str) or not isinstance(op, str):
            if unknown:
                raise QueryError(
                    N_(
                        "a condition is {'field': KEY, 'op': OPERATOR, 'value': VALUE}; "
                        "unknown keys %(keys)s"
                    ),
                    field=key if isinstance(key, str) else None,
                    keys=unknown,
                )
            raise QueryError(
                N_("a condition is {'field': KEY, 'op': OPERATOR, 'value': VALUE}"),
                field=key if isinstance(key, str) else None,
            )
        if self.bind is not None:
            self.bind.shape.append((key, op))
        if "." in key:
            return self.linked(key, op, spec)
        ref = resolve_field(self.schema, self.form_key, key, purpose="filter")
        if op == EVER:
            return self.ever(ref, spec.get("value"))
        return compile_condition(ref, op, spec.get("value"), self.bind)

    def ever(self, ref: FieldRef, value: Any) -> ColumnElement[bool]:
        """Records that once held one of the values, whatever they hold now: read from the
        stays kept of a stage field (:mod:`formflow.storage.stays`), through their index."""
        if ref.key not in tracked_fields(self.schema.app).get(self.form_key, ()):
            raise QueryError(
                N_(
                    "operator '%(op)s' needs the stage history of %(type)s field '%(field)s', "
                    "which is not kept (a stage_history widget keeps it)"
                ),
                op=EVER,
                **describe(ref),
            )
        values = [str(one) for one in _values(ref, EVER, value)]
        stays = stage_stays.c
        held = select(stays.record_id).where(
            stays.app_key == self.schema.app.key,
            stays.form_key == self.form_key,
            stays.field_key == ref.key,
            stays.value.in_(values),
        )
        if self.bind is not None:
            self.bind.shareable = False
        return self.schema.table(self.form_key).c.id.in_(held)

    def linked(self, key: str, op: str, spec: Mapping[str, Any]) -> ColumnElement[bool]:
        link_key, _, target_key = key.partition(".")
        link = resolve_field(self.schema, self.form_key, link_key, purpose="filter")
        target_form = (
            link.field.target_form
            if link.field and link.field.field_type.reference is Reference.RECORD
            else None
        )
        if target_form is None:
            raise QueryError(
                N_("'%(link)s' is not a link field, so '%(field)s' cannot follow it"),
                field=key,
                link=link_key,
            )
        ref = resolve_field(self.schema, target_form, target_key, purpose="filter", shown=key)
        target = self.schema.table(target_form)
        inner = compile_condition(ref, op, spec.get("value"))
        if self.bind is not None:
            self.bind.shareable = False
        reachable = self.link_scope(target_form) if self.link_scope else None
        where = [
            inner,
            target.c[DELETED_AT].is_(None),
            *([reachable] if reachable is not None else []),
        ]
        return link.column.in_(select(target.c.id).where(*where))


def compile_condition(
    ref: FieldRef, op: str, value: Any, bind: Binder | None = None
) -> ColumnElement[bool]:
    """One condition on one field, after checking that the operator and value fit it;
    with ``bind``, its values as bound parameters (see :class:`Binder`)."""
    allowed = operators(ref)
    if op not in allowed:
        raise QueryError(
            N_("operator '%(op)s' does not apply to %(type)s field '%(field)s'; use %(allowed)s"),
            op=op,
            allowed=", ".join(allowed),
            **describe(ref),
        )
    if op in ("is_empty", "is_not_empty"):
        if value is not None:
            raise QueryError(N_("operator '%(op)s' takes no value"), field=ref.shown, op=op)
        return _empty(ref) if op == "is_empty" else not_(_empty(ref))
    if op in _LIST_OPS:
        values = _values(ref, op, value)
        if bind is None:
            return _LIST_BUILDERS[op](ref, values)
        if op not in _BOUND_LIST_BUILDERS:
            bind.shareable = False
            return _LIST_BUILDERS[op](ref, values)
        parameter = bind(values, ref.column.type, expanding=True)
        return _DRY if bind.dry else _BOUND_LIST_BUILDERS[op](ref.column, parameter)
    if op == "between":
        return _between(ref, value, bind)
    converted = coerce_value(ref, value)
    if bind is None:
        return _SCALAR_BUILDERS[op](ref.column, converted)
    if op in _LIKE_BUILDERS:
        parameter = bind(_escaped(converted), ref.column.type)
        return _DRY if bind.dry else _LIKE_BUILDERS[op](ref.column, parameter)
    parameter = bind(converted, ref.column.type)
    return _DRY if bind.dry else _SCALAR_BUILDERS[op](ref.column, parameter)


def _values(ref: FieldRef, op: str, value: Any) -> list[Any]:
    if not isinstance(value, list | tuple) or not value:
        raise QueryError(
            N_("operator '%(op)s' needs a list of 1 to %(limit)s values"),
            field=ref.shown,
            op=op,
            limit=MAX_VALUES,
        )
    if len(value) > MAX_VALUES:
        raise QueryError(
            N_("operator '%(op)s' takes at most %(limit)s values, got %(count)s"),
            field=ref.shown,
            op=op,
            limit=MAX_VALUES,
            count=len(value),
        )
    return list(dict.fromkeys(coerce_value(ref, item) for item in value))


def _between(ref: FieldRef, value: Any, bind: Binder | None = None) -> ColumnElement[bool]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise QueryError(N_("operator 'between' needs a list [low, high]"), field=ref.shown)
    low, high = (coerce_value(ref, item) for item in value)
    # as SQL's BETWEEN: a range whose low is above its high holds nothing
    if bind is not None:
        bind.shape.append(low <= high)
        if low <= high:
            bounds = bind(low, ref.column.type), bind(high, ref.column.type)
            return _DRY if bind.dry else ref.column.between(*bounds)
    return ref.column.between(low, high) if low <= high else false()


def _empty(ref: FieldRef) -> ColumnElement[bool]:
    column = ref.column
    if ref.kind is ValueKind.TEXT:
        return or_(column.is_(None), column == "")
    if ref.kind is ValueKind.CHOICES:
        return not_(_has_elements(column))
    return column.is_(None)


def _has_elements(column: Any) -> ColumnElement[bool]:
    """Whether a stored JSON array has elements; never NULL, and JSON ``null`` counts as empty."""
    as_array = case((func.json_typeof(column) == "array", column))
    return DialectSwitch(
        Boolean(),
        sqlite=func.coalesce(func.json_array_length(column), 0) > 0,
        postgresql=func.coalesce(func.json_array_length(as_array), 0) > 0,
    )


def _has_any(ref: FieldRef, values: list[Any]) -> ColumnElement[bool]:
    elements = func.json_each(ref.column).table_valued("value")
    return DialectSwitch(
        Boolean(),
        sqlite=select(1).select_from(elements).where(elements.c.value.in_(values)).exists(),
        postgresql=cast(ref.column, JSONB).has_any(array(values)),
    )


def _has_all(ref: FieldRef, values: list[Any]) -> ColumnElement[bool]:
    elements = func.json_each(ref.column).table_valued("value")
    found = select(func.count(elements.c.value.distinct())).where(elements.c.value.in_(values))
    return DialectSwitch(
        Boolean(),
        sqlite=cast(found.scalar_subquery(), Integer) == len(values),
        postgresql=cast(ref.column, JSONB).has_all(array(values)),
    )


def _in(ref: FieldRef, values: list[Any]) -> ColumnElement[bool]:
    return ref.column.in_(values)


def _not_in(ref: FieldRef, values: list[Any]) -> ColumnElement[bool]:
    return or_(ref.column.is_(None), ref.column.not_in(values))


_LIST_BUILDERS: Mapping[str, Callable[[FieldRef, list[Any]], ColumnElement[bool]]] = {
    "in": _in,
    "not_in": _not_in,
    "has_any": _has_any,
    "has_all": _has_all,
}

_BOUND_LIST_BUILDERS: Mapping[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "in": lambda column, values: column.in_(values),
    "not_in": lambda column, values: or_(column.is_(None), column.not_in(values)),
}
"""The list operators whose values can be one expanding bound parameter."""

_ESCAPE = "/"


def _escaped(text: str) -> str:
    """``text`` with LIKE's wildcards escaped, as SQLAlchemy's ``autoescape`` escapes a
    literal (which it cannot do to a bound parameter)."""
    return (
        text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )


_LIKE_BUILDERS: Mapping[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "contains": lambda column, value: column.icontains(value, escape=_ESCAPE),
    "starts_with": lambda column, value: column.istartswith(value, escape=_ESCAPE),
    "ends_with": lambda column, value: column.iendswith(value, escape=_ESCAPE),
}

_SCALAR_BUILDERS: Mapping[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": lambda column, value: column == value,
    "ne": lambda column, value: or_(column.is_(None), column != value),
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "contains": lambda column, value: column.icontains(value, autoescape=True),
    "starts_with": lambda column, value: column.istartswith(value, autoescape=True),
    "ends_with": lambda column, value: column.iendswith(value, autoescape=True),
}
