"""Figures from the summaries kept on write, where they give exactly what the records would.

:meth:`DashboardService.measured` asks here first. A kept summary of the form answers when
it holds every field the statement groups by (a date field in the same bucket), every
field its filters name (a date range only when it covers whole buckets of the kept
date), and every measure is a count or a sum of a kept field. The viewer's reach applies
as on the records: the scope's condition is on the rows' owner and department, which
every summary row carries. A viewer from whom any field of the form is hidden is answered
from the records, which refuse what they must. Anything else (an average, a filter on a
linked record's field, a range of days, a search) is asked of the records as before.

A group keyed by a linked record's field (``account.region``) is read from a summary
that keeps the link: its rows are joined to the linked records by id, as the records are
(a deleted linked record, or one out of the viewer's reach, joins as nothing and gives no
value), and grouped by the linked field as it is now. At a million records linking
100,000 others that is about 100,000 rows joined instead of a million index entries read.

The answer is the same rows :func:`formflow.records.aggregates.aggregate` returns: each
group's keys as the records' values (a bucket's label, an option, an owner's id), counts
and exact sums, a group only where it has records, in the order of its keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, false, func, or_, select, true
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.util import ClauseAdapter

from formflow.dashboards.periods import bucket_span
from formflow.definitions.dashboard_summaries import Summary, keyed_by_link
from formflow.definitions.model import Form, Measure, Operation, Scope
from formflow.errors import QueryError
from formflow.fields import ValueKind
from formflow.records import Actor, RecordService, scope_for
from formflow.records.access import Reach, reach, scope_condition
from formflow.records.aggregates import Aggregation, normalised_value
from formflow.records.filters import resolve_field
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import summary_rows
from formflow.storage.summaries import bucket_label, key_text, key_value
from formflow.storage.tables import DELETED_AT

Figures = dict[tuple[Any, ...], dict[str, Any]]


class Unanswerable(Exception):
    """A statement the summary at hand cannot answer exactly (the records will)."""


class SummaryReader:
    """Answers a dashboard's counts and sums from one app's kept summaries."""

    def __init__(self, records: RecordService) -> None:
        self.records = records
        self.kept = records.summaries.kept

    def measured(self, actor: Actor, form_key: str, aggregation: Aggregation) -> Figures | None:
        """Each group's figures, named as :func:`formflow.records.aggregates.aggregate`
        names them, as the records would give them; ``None`` where no kept summary can
        answer exactly."""
        summaries = self.kept.get(form_key)
        if not summaries or any(m.op not in ("count", "sum") for m in aggregation.measures):
            return None
        form = self.records.app.form(form_key)
        scope = scope_for(actor, form, Operation.READ)
        if scope is Scope.NONE or self._hides(actor, form_key, aggregation):
            return None
        # the smallest first: a summary keyed by a link has a row per linked record
        for summary in sorted(summaries, key=lambda s: (keyed_by_link(form, s.keys), len(s.keys))):
            try:
                statement = self._statement(actor, scope, form, summary, aggregation)
            except Unanswerable:
                continue
            with read_transaction(self.records.engine) as connection:
                rows = connection.execute(statement).all()
            return _figures(form, rows, aggregation)
        return None

    def _hides(self, actor: Actor, form_key: str, aggregation: Aggregation) -> bool:
        """Whether a field of the form, or of a form a linked group reads, is hidden from
        the viewer (the records then refuse what they must)."""
        if self.records.field_access(actor, form_key).hidden:
            return True
        if any("." in key for key in aggregation.group_by):
            return any(
                self.records.field_access(actor, key).hidden for key in self.records.app.forms
            )
        return False

    def _statement(
        self, actor: Actor, scope: Scope, form: Form, summary: Summary, aggregation: Aggregation
    ) -> Any:
        bucket = aggregation.bucket
        linked = _LinkedRecords(self.records, actor, form, summary)
        groups = [
            linked.column(key, bucket.get(key))
            if "." in key
            else _group_column(form, summary, key, bucket.get(key))
            for key in aggregation.group_by
        ]
        figures = [
            _measure(form, summary, measure, _condition(form, summary, measure.filter or {}))
            for measure in aggregation.measures
        ]
        where = [
            summary_rows.c.app_key == self.records.app.key,
            summary_rows.c.form_key == form.key,
            summary_rows.c.summary == summary.name,
            summary_rows.c.records > 0,  # not the row that marks the summary as built
            _condition(form, summary, aggregation.filter or {}),
        ]
        reached = _reach_condition(reach(scope, actor), actor)
        if reached is not None:
            where.append(reached)
        statement = select(*groups, *figures).select_from(linked.source).where(*where)
        return statement.group_by(*groups) if groups else statement


class _LinkedRecords:
    """The summary's rows, outer-joined to the records their kept links point at, as
    :class:`formflow.records.aggregates.Links` joins the form's own rows: on the linked
    record's id, live and within the viewer's reach of its form, or as nothing."""

    def __init__(self, records: RecordService, actor: Actor, form: Form, summary: Summary) -> None:
        self.records, self.actor, self.form, self.summary = records, actor, form, summary
        self.source: FromClause = summary_rows
        self.joined: dict[str, FromClause] = {}

    def column(self, key: str, bucket: str | None) -> ColumnElement[Any]:
        """The linked field ``key`` (``link.field``) of each row's linked record."""
        kept = self.summary.linked_column(key)
        if kept is None or bucket is not None:
            raise Unanswerable(key)
        column, target_key = kept
        link = self.form.field(key.partition(".")[0])
        target = link.target_form or ""
        try:
            ref = resolve_field(self.records.schema, target, target_key, purpose="read", shown=key)
        except QueryError:
            raise Unanswerable(key) from None
        if ref.kind in (ValueKind.CHOICES, ValueKind.FILES):
            raise Unanswerable(key)
        joined = self.joined.get(column)
        if joined is None:
            table = self.records.schema.table(target)
            joined = table.alias(f"linked_{len(self.joined)}")
            target_form = self.records.app.form(target)
            on = [
                joined.c.id == cast(summary_rows.c[column], BigInteger),
                joined.c[DELETED_AT].is_(None),
            ]
            target_scope = scope_for(self.actor, target_form, Operation.READ)
            reachable = scope_condition(target_scope, self.actor, target_form, table)
            if reachable is not None:
                on.append(ClauseAdapter(joined).traverse(reachable))
            self.source = self.source.outerjoin(joined, and_(*on))
            self.joined[column] = joined
        found: ColumnElement[Any] = joined.c[ref.column.key or ""]
        return found


def _figures(form: Form, rows: Sequence[Any], aggregation: Aggregation) -> Figures:
    keys, bucket = aggregation.group_by, aggregation.bucket
    names = aggregation.labels or tuple(m.name for m in aggregation.measures)
    found: Figures = {}
    for row in rows:
        values = list(row)
        group = tuple(
            _key_value(form, key, bucket.get(key), value)
            for key, value in zip(keys, values, strict=False)
        )
        figures = zip(names, aggregation.measures, values[len(keys) :], strict=True)
        found[group] = {name: _figure(form, measure, figure) for name, measure, figure in figures}
    ordered = sorted(found.items(), key=lambda item: [(k is not None, k) for k in item[0]])
    return dict(ordered[: aggregation.limit])


def _group_column(form: Form, summary: Summary, key: str, bucket: str | None) -> Any:
    if key == form.owner_field and bucket is None:
        return summary_rows.c.owner
    if bucket is not None:
        kept = summary.bucket_column(key)
        if kept is None or kept[1] != bucket:
            raise Unanswerable(key)
        return summary_rows.c[kept[0]]
    column = summary.column(key)
    if column is None:
        raise Unanswerable(key)
    return summary_rows.c[column]


def _key_value(form: Form, key: str, bucket: str | None, value: Any) -> Any:
    if "." in key:  # a linked record's field, read as the records read it
        return normalised_value(value)
    if key == form.owner_field and bucket is None:
        return None if value is None else int(value)
    return key_value(form, key, bucket, value)


def _measure(form: Form, summary: Summary, measure: Measure, only: ColumnElement[bool]) -> Any:
    """A measure over the rows matching ``only`` (its own filter; always true without)."""

    def within(column: Any) -> Any:
        return func.sum(case((only, column)))

    if measure.field is None:
        return within(summary_rows.c.records)
    number = summary.sum_column(measure.field)
    if number is None:
        raise Unanswerable(measure.field)
    values = within(summary_rows.c[f"n{number}"])
    if measure.op == "count":
        return values
    return case((values > 0, within(summary_rows.c[f"s{number}"])))


def _figure(form: Form, measure: Measure, value: Any) -> int | Decimal | None:
    if value is None:
        return None
    if measure.op == "count" or measure.field is None:
        return int(value)
    field = form.field(measure.field)
    if field.kind is ValueKind.INTEGER:
        return int(value)
    places = Decimal(1).scaleb(-field.scale)
    return Decimal(int(value)).scaleb(-field.scale).quantize(places)


def _reach_condition(found: Reach, actor: Actor) -> ColumnElement[bool] | None:
    """The scope's condition on a summary row's owner and department, as
    :func:`formflow.records.access.scope_condition` puts it on a record's."""
    if found is Reach.EVERYTHING:
        return None
    if found is Reach.DEPARTMENTS:
        return summary_rows.c.department.in_(sorted(actor.department_ids))
    if found is Reach.OWNED:
        return summary_rows.c.owner == actor.user_id
    return false()


def _condition(form: Form, summary: Summary, spec: Mapping[str, Any]) -> ColumnElement[bool]:
    """A filter in the filter language as a condition on the summary's rows, where every
    condition is on a kept key; :class:`Unanswerable` where one is not."""
    if not spec:
        return true()
    if "and" in spec or "or" in spec:
        if set(spec) - {"and", "or"}:
            raise Unanswerable("a filter the summaries do not read")
        parts = [_condition(form, summary, item) for item in spec.get("and", [])]
        if "or" in spec:
            parts.append(or_(false(), *(_condition(form, summary, i) for i in spec["or"])))
        return and_(true(), *parts)
    key, op, value = spec.get("field"), spec.get("op"), spec.get("value")
    if not isinstance(key, str) or set(spec) - {"field", "op", "value"}:
        raise Unanswerable("a filter the summaries do not read")
    if key == "id" and op == "eq" and value == 0:  # nobody's records (an empty department)
        return false()
    if op in ("is_empty", "is_not_empty"):
        column = _plain_column(form, summary, key)
        return column.is_(None) if op == "is_empty" else column.is_not(None)
    if op in ("eq", "in"):
        column = _plain_column(form, summary, key)
        values = value if op == "in" and isinstance(value, list) else [value]
        if op == "eq" and isinstance(value, list):
            raise Unanswerable(key)
        texts = [_text(form, key, v) for v in values]
        return column.in_(texts) if texts else false()
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return _within(summary, key, value[0], value[1])
    raise Unanswerable(f"{key} {op}")


def _plain_column(form: Form, summary: Summary, key: str) -> ColumnElement[Any]:
    if key == form.owner_field:
        return summary_rows.c.owner
    column = summary.column(key)
    if column is None:
        raise Unanswerable(key)
    return summary_rows.c[column]


def _text(form: Form, key: str, value: Any) -> Any:
    if value is None or value == "" or isinstance(value, (list, dict, bool)):
        raise Unanswerable(key)
    if key == form.owner_field:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise Unanswerable(key) from None
    try:
        return key_text(form, key, None, value)
    except ValueError:
        raise Unanswerable(key) from None


def _within(summary: Summary, key: str, first: Any, last: Any) -> ColumnElement[bool]:
    """Days from ``first`` to ``last``, where they are whole buckets of the kept date."""
    kept = summary.bucket_column(key)
    if kept is None:
        raise Unanswerable(key)
    column, bucket = kept
    try:
        start, end = date.fromisoformat(str(first)), date.fromisoformat(str(last))
    except ValueError:
        raise Unanswerable(key) from None
    low, high = bucket_label(start, bucket), bucket_label(end, bucket)
    if bucket_span(bucket, low).first != start or bucket_span(bucket, high).last != end:
        raise Unanswerable(f"{key} from {first} to {last}")
    found: ColumnElement[bool] = summary_rows.c[column].between(low, high)
    return found
