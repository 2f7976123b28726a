"""Summaries kept on write: the groups a dashboard's common widgets ask for, derived from them.

A funnel by stage, a ranking by owner, revenue by month and source: each asks the database
to count and add up every matching record, and at a million records that is a scan of
hundreds of thousands of rows per widget on every cold view. Yet these widgets only ever
read a few columns, each with few distinct values. So for each such widget shape the
record service keeps, as it writes, one row per combination of those values (and of the
record's owner and department, which the permission scope and the viewer's owner and
department filters read): how many records, and for each summed field the exact sum of
its values in whole units of its last place (:mod:`formflow.records.summaries`). The
dashboard service answers from these few hundred rows where the widget's groups, filters
and the viewer's reach allow, and from the records otherwise
(:mod:`formflow.dashboards.summaries`).

A summary is known by its form, its *keys* (fields, a date field with its bucket) and its
*sums*; widgets over one form that need the same keys share one summary. Only values the
write itself sets can be kept this way: a roll-up, lookup or formula field is written by
other means, so a widget that reads one keeps no summary and is computed from the records.

A widget grouped by a linked record's field (``account.region``) keeps a summary keyed by
the link itself (the account's id): the linked record's field is read through a join when
the widget is viewed, so an account changing region changes no summary row, and a write of
the record moves it between rows as any write does. Such a summary has about a row
per linked record and group, so it is kept apart: nothing is folded into it, and the
viewer's field filters are not among its keys (a view with one is counted from the records).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from formflow.definitions.model import WIDGET_KINDS, App, Dashboard, Form, OnDelete, Widget
from formflow.fields import ValueKind

MAX_KEYS = 6
"""Key columns a summary row has (``k1`` … ``k6``)."""
MAX_SUMS = 4
"""Summed fields a summary row has (``s1``/``n1`` … ``s4``/``n4``)."""
RANGE_BUCKET = "month"
"""The bucket a date field is kept by when a widget only narrows by it (a date range):
a month, quarter or year range reads whole months."""
KEPT_KINDS: tuple[str, ...] = tuple(
    kind for kind in WIDGET_KINDS if kind not in ("table", "calendar", "gantt", "stage_history")
)
"""Widget kinds whose figures are counts and sums of groups (the others list records or
their history)."""
_BUCKETS = ("day", "week", "month", "quarter", "year")
_KEY_KINDS = (ValueKind.TEXT, ValueKind.INTEGER, ValueKind.DECIMAL, ValueKind.REFERENCE)
_SUM_KINDS = (ValueKind.INTEGER, ValueKind.DECIMAL)

Key = tuple[str, str | None]
"""A summary key: a field, and the bucket its dates are kept by (``None`` for others)."""


@dataclass(frozen=True)
class Summary:
    """One kept summary of ``form``: a row per value of ``keys`` (and owner, department),
    with the record count and, per field of ``sums``, its sum and how many values it has."""

    form: str
    keys: tuple[Key, ...]
    sums: tuple[str, ...]
    name: str

    def column(self, key: str) -> str | None:
        """The key column (``k1``…) holding ``key`` as it is, ``None`` if it is not kept."""
        for index, (field, bucket) in enumerate(self.keys, 1):
            if field == key and bucket is None:
                return f"k{index}"
        return None

    def bucket_column(self, key: str) -> tuple[str, str] | None:
        """The key column and the bucket a date field ``key`` is kept by, if it is."""
        for index, (field, bucket) in enumerate(self.keys, 1):
            if field == key and bucket is not None:
                return f"k{index}", bucket
        return None

    def linked_column(self, key: str) -> tuple[str, str] | None:
        """For a linked record's field ``link.field``: the key column holding the link and
        the linked field's key, if the link is kept."""
        link, _, target_field = key.partition(".")
        column = self.column(link) if target_field and "." not in target_field else None
        return (column, target_field) if column is not None else None

    def sum_column(self, key: str) -> int | None:
        """The number of the sum columns (``s1``/``n1``…) of field ``key``, if it is kept."""
        return self.sums.index(key) + 1 if key in self.sums else None


def summaries_of(app: App) -> dict[str, tuple[Summary, ...]]:
    """Each form's kept summaries, derived from the app's dashboards."""
    wanted: dict[tuple[str, tuple[Key, ...]], set[str]] = {}
    for dashboard in app.dashboards.values():
        for widget in dashboard.widgets:
            form = app.forms.get(widget.form)
            if form is None or widget.kind not in KEPT_KINDS:
                continue
            for keys, sums in _shapes(form, dashboard, widget):
                wanted.setdefault((form.key, keys), set()).update(sums)
    _fold(wanted, app)
    found: dict[str, list[Summary]] = {}
    for (form_key, keys), sums in sorted(wanted.items()):
        kept = tuple(sorted(sums))[:MAX_SUMS]
        name = _name(app.forms[form_key], keys, kept)
        found.setdefault(form_key, []).append(Summary(form_key, keys, kept, name))
    return {key: tuple(items) for key, items in found.items()}


def _fold(wanted: dict[tuple[str, tuple[Key, ...]], set[str]], app: App) -> None:
    """Fold a summary into one of the same form whose keys include all of its own (the
    fewest such): it answers the same widgets from a few more rows, and every write to
    the form has one row fewer to add to. A summary keyed by a link has a row per linked
    record, far more than a few: it is neither folded nor folded into."""
    for form_key, keys in sorted(wanted, key=lambda item: len(item[1])):
        if keyed_by_link(app.forms[form_key], keys):
            continue
        wider = [
            other
            for other_form, other in wanted
            if other_form == form_key
            and not keyed_by_link(app.forms[form_key], other)
            and set(keys) < set(other)
            and len(wanted[(form_key, other)] | wanted[(form_key, keys)]) <= MAX_SUMS
        ]
        if wider:
            into = min(wider, key=len)
            wanted[(form_key, into)] |= wanted.pop((form_key, keys))


def keyed_by_link(form: Form, keys: Iterable[Key]) -> bool:
    """Whether a summary with these keys keeps a link: a row per linked record."""
    return any(form.has_field(key) and form.field(key).is_link for key, _ in keys)


def _shapes(
    form: Form, dashboard: Dashboard, widget: Widget
) -> list[tuple[tuple[Key, ...], set[str]]]:
    """The keys and sums of each statement the widget asks; none where one of its fields
    cannot be kept (a filter on a linked record's field, a linked date by bucket, an age,
    a derived value, too many keys). A group by a linked record's field keeps its link."""
    measures = list(widget.measures)
    if widget.ratio is not None:
        measures = [widget.ratio.numerator, widget.ratio.denominator]
    sums = {m.field for m in measures if m.field}
    narrowed = [key for m in measures for key in _filter_fields(m.filter or {})]
    linked = any("." in d.field for d in widget.dimensions)
    viewer = [f.field for f in dashboard.filters if f.kind == "field" and f.field]
    viewer = [key for key in viewer if form.has_field(key) and not linked]
    statements: list[tuple[list[Key], list[str], str | None]] = []
    grouped: list[Key] = [(_own_key(d.field), d.bucket) for d in widget.dimensions]
    if any(d.age for d in widget.dimensions) or (
        linked and any(d.bucket for d in widget.dimensions if "." in d.field)
    ):
        return []
    forecast = widget.forecast
    if forecast is not None:
        grouped.append((forecast.probability, None))
    statements.append((grouped, _filter_fields(widget.filter), widget.date_field))
    if forecast is not None and forecast.won_date and widget.dimensions:
        won = [(forecast.won_date, widget.dimensions[0].bucket)]
        statements.append((won, _filter_fields(forecast.won), forecast.won_date))
    found = []
    for keys, filtered, date_field in statements:
        shape = _shape(form, widget, keys, [*filtered, *narrowed, *viewer], date_field, sums)
        if shape is None:
            return []
        found.append(shape)
    return found


def _shape(
    form: Form,
    widget: Widget,
    grouped: list[Key],
    filtered: list[str],
    date_field: str | None,
    sums: set[str],
) -> tuple[tuple[Key, ...], set[str]] | None:
    keys: dict[str, str | None] = {}
    for key, bucket in grouped:
        if key != form.owner_field:
            keys[key] = bucket
    if date_field and date_field not in keys:  # narrowed to a period, or to whole months
        keys[date_field] = widget.period if widget.period in _BUCKETS else RANGE_BUCKET
    for key in filtered:
        if key != form.owner_field:
            keys.setdefault(key, None)
    if len(keys) > MAX_KEYS or not all(_keepable(form, k, b) for k, b in keys.items()):
        return None
    if not all(_summable(form, key) for key in sums):
        return None
    return tuple(sorted(keys.items(), key=lambda item: (item[0], item[1] or ""))), sums


def _own_key(key: str) -> str:
    """The form's own field a group key reads: a linked record's field is read through
    its link (``account.region`` through ``account``)."""
    return key.partition(".")[0]


def _keepable(form: Form, key: str, bucket: str | None) -> bool:
    """Whether a field's values can be a summary key: one stored value the write sets."""
    if not form.has_field(key):
        return False
    field = form.field(key)
    if field.is_derived or field.is_formula or field.filled_from is not None:
        return False  # written by other means too (a roll-up, a formula)
    if field.is_link and (field.on_delete is OnDelete.SET_NULL or field.target_form == form.key):
        return False  # emptied past the record service when the linked record is deleted
    if bucket is not None:
        return field.kind is ValueKind.DATE
    return field.kind in _KEY_KINDS and (field.kind is not ValueKind.TEXT or bool(field.options))


def _summable(form: Form, key: str) -> bool:
    if not form.has_field(key):
        return False
    field = form.field(key)
    derived = field.is_derived or field.is_formula or field.filled_from is not None
    return not derived and field.kind in _SUM_KINDS


def _filter_fields(spec: Mapping[str, Any]) -> list[str]:
    found = [spec["field"]] if isinstance(spec.get("field"), str) else []
    for item in [*spec.get("and", []), *spec.get("or", [])]:
        found += _filter_fields(item)
    return found


def _name(form: Form, keys: Iterable[Key], sums: Iterable[str]) -> str:
    """A name that changes whenever what the rows hold would: the keys, the sums and how
    each of their fields is stored (a changed scale or option list means a rebuild)."""
    facts = []
    for key in [*(k for k, _ in keys), *sums]:
        field = form.field(key)
        facts.append((key, str(field.kind), field.scale, field.option_values))
    text = repr((form.key, tuple(keys), tuple(sums), facts))
    return hashlib.sha256(text.encode()).hexdigest()[:24]
