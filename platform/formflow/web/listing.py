"""What a list page was asked for: search, sort, filters and page, read from its URL.

The URL is the list's whole state (``?q=华为&sort=-updated_at&f.level=A&cursor=…``), so a
list can be bookmarked, shared, saved as a view and paged through without JavaScript.
Only parameters the form's definition offers are taken (its ``list.search``,
``list.filters`` and sortable columns, and a filter on any other filterable field the URL
names, as a dashboard's drill-down does; a select filter may name several options,
``f.stage=won,lost``); anything else in the URL is ignored. The filters
become the record service's structured filter language, never SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _

from formflow.definitions.model import SYSTEM_FIELDS, Form, SortKey
from formflow.fields import ValueKind
from formflow.records import sortable
from formflow.storage.stays import tracked_fields
from formflow.storage.tables import AppSchema
from formflow.web.display import cell_columns, column_label
from formflow.web.i18n import text
from formflow.web.ids import parse_id

FILTER = "f."
LOW, HIGH = ".from", ".to"
EVER = ".ever"
NONE = "__none__"
MAX_PARAM = 200
COLUMNS = "columns"
MAX_COLUMNS = 30

Spec = dict[str, Any]


def filter_type(form: Form, key: str) -> str:
    """How a field is filtered: ``select``, ``multiselect``, ``user``, ``department``,
    ``bool``, ``link``, ``number``, ``date``, ``datetime`` or ``text``."""
    if key in SYSTEM_FIELDS:
        kind = SYSTEM_FIELDS[key]
        return {
            ValueKind.DATETIME: "datetime",
            ValueKind.REFERENCE: "user",
            ValueKind.INTEGER: "number",
        }[kind]
    found = form.field(key)
    return found.field_type.filter_widget(found)


@dataclass(frozen=True)
class ListState:
    """The list's parameters, checked against the form."""

    search: str = ""
    sort: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)
    cursor: str = ""
    columns: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, form: Form, schema: AppSchema, args: Mapping[str, str]) -> ListState:
        search = args.get("q", "").strip()[:MAX_PARAM] if form.list_view.search else ""
        sort = args.get("sort", "")
        if sort and sort.lstrip("-") not in sortable_columns(form, schema):
            sort = ""
        filters = {
            name: str(args[name]).strip()[:MAX_PARAM]
            for name in filter_params(form)
            if str(args.get(name, "")).strip()
        }
        for key in _other_links(form):  # "the items of record 7", from a detail page
            value = str(args.get(FILTER + key, "")).strip()
            if parse_id(value) is not None:
                filters[FILTER + key] = value
        for name in _ever_params(form, schema):  # a stage history's drill-down
            value = str(args.get(name, "")).strip()[:MAX_PARAM]
            if value:
                filters[name] = value
        for name in _other_params(form):  # a dashboard's drill-down
            value = str(args.get(name, "")).strip()[:MAX_PARAM]
            if value and name not in filters:
                filters[name] = value
        columns = chosen_columns(form, _all_values(args, COLUMNS))
        return cls(search, sort, filters, args.get("cursor", "")[:2000], columns)

    def params(self, *, cursor: str = "", sort: str | None = None) -> dict[str, str]:
        """URL parameters for this state (another page or sort if given)."""
        found: dict[str, str] = dict(self.filters)
        if self.search:
            found["q"] = self.search
        chosen = self.sort if sort is None else sort
        if chosen:
            found["sort"] = chosen
        if self.columns:
            found[COLUMNS] = ",".join(self.columns)
        if cursor:
            found["cursor"] = cursor
        return found

    @property
    def is_filtered(self) -> bool:
        return bool(self.search or self.filters)

    def sort_keys(self) -> tuple[SortKey, ...] | None:
        if not self.sort:
            return None
        return (SortKey(self.sort.lstrip("-"), self.sort.startswith("-")),)


def chosen_columns(form: Form, asked: list[str]) -> tuple[str, ...]:
    """The columns a person chose (``columns=name,stage,amount``, or one ``columns``
    parameter per ticked box), in their order: fields a cell can show, each once; anything
    else is ignored, as an unknown filter is."""
    offered = set(cell_columns(form))
    chosen: list[str] = []
    for value in asked:
        for key in str(value).split(",")[: MAX_COLUMNS * 2]:
            key = key.strip()
            if key in offered and key not in chosen:
                chosen.append(key)
    return tuple(chosen[:MAX_COLUMNS])


def _all_values(args: Mapping[str, str], name: str) -> list[str]:
    getlist = getattr(args, "getlist", None)
    return list(getlist(name)) if getlist is not None else [args.get(name, "")]


def filter_keys(form: Form, state: ListState) -> list[str]:
    """The fields filtered on: the list's own filters, and any other link field the URL
    names by record id (the link from a record to "all the records that link to it")."""
    extra = [
        key
        for key in _other_fields(form)
        if any(name in state.filters for name in _params(form, key))
    ]
    return [*form.list_view.filters, *extra]


def _other_links(form: Form) -> list[str]:
    return [f.key for f in form.fields if f.is_link and f.key not in form.list_view.filters]


_DRILLABLE = frozenset(
    {"select", "user", "department", "bool", "number", "date", "datetime", "multiselect"}
)


def _other_fields(form: Form) -> list[str]:
    """Fields the list does not offer as filters that a URL may still filter on."""
    return [
        f.key
        for f in form.fields
        if f.key not in form.list_view.filters
        and f.field_type.filterable
        and (f.is_link or filter_type(form, f.key) in _DRILLABLE)
    ]


def _other_params(form: Form) -> list[str]:
    return [
        name
        for key in _other_fields(form)
        if not form.field(key).is_link
        for name in _params(form, key)
    ]


def _ever_params(form: Form, schema: AppSchema) -> list[str]:
    """``f.stage.ever``: the records that were once in a stage, for a stage field whose
    history is kept."""
    return [FILTER + key + EVER for key in tracked_fields(schema.app).get(form.key, ())]


def _params(form: Form, key: str) -> list[str]:
    if filter_type(form, key) in ("number", "date", "datetime"):
        return [FILTER + key + LOW, FILTER + key + HIGH]
    return [FILTER + key]


def filter_params(form: Form) -> list[str]:
    names = []
    for key in form.list_view.filters:
        if filter_type(form, key) in ("number", "date", "datetime"):
            names += [FILTER + key + LOW, FILTER + key + HIGH]
        else:
            names.append(FILTER + key)
    return names


def sortable_columns(form: Form, schema: AppSchema) -> set[str]:
    keys = form.list_view.columns or [f.key for f in form.fields]
    return {key for key in keys if sortable(schema, form.key, key)}


# filters -> the service's filter language -------------------------------------------


class Filters:
    """Turns a :class:`ListState`'s filters into one filter spec, noting values that do
    not make sense (shown to the person; the rest of the filter still applies)."""

    def __init__(self, form: Form, schema: AppSchema, timezone: tzinfo) -> None:
        self.form = form
        self.schema = schema
        self.timezone = timezone
        self.problems: list[str] = []

    def spec(self, state: ListState) -> Spec | None:
        conditions: list[Spec] = []
        for key in filter_keys(self.form, state):
            conditions += self._conditions(key, state.filters)
        for name in _ever_params(self.form, self.schema):
            conditions += self._ever(name, state.filters.get(name, ""))
        return {"and": conditions} if conditions else None

    def _ever(self, name: str, value: str) -> list[Spec]:
        key = name[len(FILTER) : -len(EVER)]
        several = value.split(",") if value else []
        if several and all(one in self.form.field(key).option_values for one in several):
            return [{"field": key, "op": "ever", "value": several}]
        if value:
            self._problem(key, value)
        return []

    def _conditions(self, key: str, given: Mapping[str, str]) -> list[Spec]:
        kind = filter_type(self.form, key)
        if kind in ("number", "date", "datetime"):
            low, high = given.get(FILTER + key + LOW), given.get(FILTER + key + HIGH)
            return self._range(key, kind, low, high)
        value = given.get(FILTER + key)
        if not value:
            return []
        if value == NONE and kind in ("select", "user", "department", "link"):
            return [{"field": key, "op": "is_empty"}]
        return self._single(key, kind, value)

    def _single(self, key: str, kind: str, value: str) -> list[Spec]:
        if kind == "select":
            options = self.form.field(key).option_values
            if value in options:
                return [{"field": key, "op": "eq", "value": value}]
            several = value.split(",")
            if len(several) > 1 and all(one in options for one in several):
                return [{"field": key, "op": "in", "value": several}]
        elif kind == "multiselect":
            if value in self.form.field(key).option_values:
                return [{"field": key, "op": "has_any", "value": [value]}]
        elif kind in ("user", "department"):
            if (record_id := parse_id(value)) is not None:
                return [{"field": key, "op": "eq", "value": record_id}]
            ids = [parse_id(one) for one in value.split(",")]
            if len(ids) > 1 and all(one is not None for one in ids):  # a dashboard's team
                return [{"field": key, "op": "in", "value": ids}]
        elif kind == "bool":
            if value in ("yes", "no"):
                return [{"field": key, "op": "eq" if value == "yes" else "ne", "value": True}]
        elif kind == "link":
            return self._link(key, value)
        else:
            return [{"field": key, "op": "contains", "value": value}]
        self._problem(key, value)
        return []

    def _link(self, key: str, value: str) -> list[Spec]:
        if (record_id := parse_id(value)) is not None:
            return [{"field": key, "op": "eq", "value": record_id}]
        target = self.schema.app.form(self.form.field(key).target_form or "")
        title = target.field(target.title_field)
        if title.kind is ValueKind.TEXT and not title.options:
            return [{"field": f"{key}.{title.key}", "op": "contains", "value": value}]
        self._problem(key, value)
        return []

    def _range(self, key: str, kind: str, low: str | None, high: str | None) -> list[Spec]:
        found: list[Spec] = []
        for op, given in (("gte", low), ("lte", high)):
            if not given:
                continue
            try:
                found.append(self._bound(key, kind, op, given))
            except (ValueError, InvalidOperation):
                self._problem(key, given)
        return found

    def _bound(self, key: str, kind: str, op: str, given: str) -> Spec:
        if kind == "number":
            number = Decimal(given.replace(",", ""))
            if not number.is_finite():
                raise ValueError(given)
            return {"field": key, "op": op, "value": str(number)}
        day = date.fromisoformat(given)
        if kind == "date":
            return {"field": key, "op": op, "value": day.isoformat()}
        # A day in the user's time zone: from its first moment, to before the next day's.
        if op == "lte":
            day, op = day + timedelta(days=1), "lt"
        moment = datetime.combine(day, time(), tzinfo=self.timezone)
        return {"field": key, "op": op, "value": moment.isoformat()}

    def _problem(self, key: str, value: str) -> None:
        self.problems.append(
            _(
                "%(field)s: “%(value)s” does not fit this filter; it was left out.",
                field=column_label(self.form, key),
                value=value,
            )
        )


# the filter controls a page shows ------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """One filter control: its kind, input names, current values and any choices."""

    key: str
    label: str
    kind: str
    name: str
    value: str = ""
    high_name: str = ""
    high_value: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    hint: str = ""


def controls(
    form: Form,
    state: ListState,
    *,
    users: list[tuple[int, str]],
    departments: list[tuple[int, str]],
    link_titles: Mapping[tuple[str, int], str],
) -> list[Control]:
    found = []
    for key in filter_keys(form, state):
        kind = filter_type(form, key)
        label = column_label(form, key)
        name = FILTER + key
        if kind in ("number", "date", "datetime"):
            found.append(
                Control(
                    key,
                    label,
                    kind,
                    name + LOW,
                    state.filters.get(name + LOW, ""),
                    name + HIGH,
                    state.filters.get(name + HIGH, ""),
                )
            )
            continue
        value = state.filters.get(name, "")
        found.append(
            Control(
                key,
                label,
                kind,
                name,
                value,
                choices=_with_several(_choices(form, key, kind, users, departments), kind, value),
                hint=_link_hint(form, key, kind, value, link_titles),
            )
        )
    for name in (n for n in state.filters if n.endswith(EVER) and n.startswith(FILTER)):
        key = name[len(FILTER) : -len(EVER)]
        value = state.filters[name]
        every = _with_several(_choices(form, key, "select", users, departments), "select", value)
        choices = tuple(choice for choice in every if choice[0] != NONE)
        label = _("%(field)s (ever)", field=column_label(form, key))
        found.append(Control(key + EVER, label, "select", name, value, choices=choices))
    return found


def _with_several(
    choices: tuple[tuple[str, str], ...], kind: str, value: str
) -> tuple[tuple[str, str], ...]:
    """The choices, plus the several options a drill-down may have chosen together."""
    if kind == "select" and "," in value and value not in dict(choices):
        names = dict(choices)
        return (*choices, (value, " / ".join(names.get(one, one) for one in value.split(","))))
    return choices


def _choices(
    form: Form,
    key: str,
    kind: str,
    users: list[tuple[int, str]],
    departments: list[tuple[int, str]],
) -> tuple[tuple[str, str], ...]:
    empty = (NONE, _("(empty)"))
    if kind in ("select", "multiselect"):
        options = tuple((o.value, text(o.label)) for o in form.field(key).options)
        return (*options, empty) if kind == "select" else options
    if kind == "user":
        return (*((str(i), name) for i, name in users), empty)
    if kind == "department":
        return (*((str(i), name) for i, name in departments), empty)
    if kind == "bool":
        return (("yes", _("Yes")), ("no", _("No")))
    return ()


def _link_hint(
    form: Form, key: str, kind: str, value: str, titles: Mapping[tuple[str, int], str]
) -> str:
    record_id = parse_id(value)
    if kind != "link" or record_id is None:
        return ""
    target = form.field(key).target_form or ""
    return titles.get((target, record_id), f"#{value}")


def link_filter_ids(form: Form, state: ListState) -> dict[str, set[int]]:
    """Records named by id in link filters, whose titles the page shows beside them."""
    wanted: dict[str, set[int]] = {}
    for key in filter_keys(form, state):
        record_id = parse_id(state.filters.get(FILTER + key, ""))
        if filter_type(form, key) == "link" and record_id is not None:
            wanted.setdefault(form.field(key).target_form or "", set()).add(record_id)
    return wanted
