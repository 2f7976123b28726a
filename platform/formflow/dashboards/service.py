"""A dashboard's figures for one viewer: every widget as aggregates the database computes.

Each figure is asked of the record service (:meth:`RecordService.aggregate` and
:meth:`RecordService.find`), so it goes through the same permission scope and hidden-field
rules as a list: a rep's funnel counts the rep's records, a manager's the department's,
and a widget that groups or measures a field hidden from the viewer is refused rather than
drawn. No record is loaded into Python to be counted; only aggregates leave the database,
except for the rows a table, calendar or Gantt shows.

Every group carries its :data:`Drill`: the field conditions that select exactly the records
behind it (the widget's fixed filter, the viewer's filters and the group's own keys), which
the web layer turns into a link to the list page.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any, NamedTuple

from formflow.dashboards.cache import ResultCache
from formflow.dashboards.departments import DepartmentTree
from formflow.dashboards.periods import Span, bucket_span, period_span, previous_period
from formflow.dashboards.summaries import SummaryReader
from formflow.definitions.model import (
    SYSTEM_FIELDS,
    App,
    Dashboard,
    Dimension,
    Form,
    Measure,
    Operation,
    Scope,
    SortKey,
    TargetSource,
    Widget,
)
from formflow.errors import N_, PermissionDenied, QueryError
from formflow.fields import ValueKind
from formflow.records import Actor, Query, RecordService, scope_for
from formflow.records.aggregates import MAX_GROUPS, Aggregation
from formflow.records.filters import MAX_VALUES

Drill = dict[str, str | tuple[str, str]]
"""Field conditions behind a figure: ``{"stage": "won"}`` (one value, or several joined by
commas), ``{"close_date": ("2026-01-01", "2026-01-31")}`` (a range of days), or
``{"owner": ""}`` (empty)."""

Number = int | Decimal | None

DEFAULT_RANKING = 10
OLDEST = date(1900, 1, 1)
"""Where the last age range starts: a date-time before it would not survive every zone."""
TABLE_ROWS = 50
CALENDAR_DAYS = 62


@dataclass(frozen=True)
class ViewerFilters:
    """What the viewer chose for the whole dashboard."""

    span: Span | None = None
    owner: int | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    department: int | None = None


@dataclass
class Group:
    """One data point: its keys (one per dimension), its figures, and its drill-down;
    ``drills`` a figure's own where its records are not the point's (a forecast's won)."""

    keys: tuple[Any, ...]
    values: dict[str, Number]
    drill: Drill | None
    drills: dict[str, Drill | None] = field(default_factory=dict)


@dataclass
class WidgetResult:
    """A widget's figures. ``measures`` names the values of each group (a ratio is called
    ``ratio``); ``value``/``previous``/``change`` are a number widget's; ``rows`` a table,
    calendar or Gantt's records; ``problem`` why the widget shows nothing."""

    widget: Widget
    measures: tuple[str, ...] = ()
    groups: list[Group] = field(default_factory=list)
    totals: dict[str, list[Group]] = field(default_factory=dict)
    value: Number = None
    previous: Number = None
    change: Decimal | None = None
    drill: Drill | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    span: Span | None = None
    problem: str | None = None


class Ask(NamedTuple):
    """One widget asked for one viewer: what each kind of widget computes its figures from."""

    service: DashboardService
    actor: Actor
    widget: Widget
    viewer: ViewerFilters

    def span(self) -> Span | None:
        """The days the figures cover: the viewer's choice, else the widget's own period."""
        if self.viewer.span is not None:
            return self.viewer.span
        if self.widget.period:
            return period_span(self.widget.period, self.service.today())
        return None

    def conditions(self, span: Span | None) -> tuple[list[dict[str, Any]], Drill]:
        return self.service.conditions(self.widget, self.viewer, span)


def may_see(actor: Actor, dashboard: Dashboard) -> bool:
    """Whether ``actor``'s roles are among those the dashboard is for (admins see all)."""
    return actor.is_admin or not dashboard.roles or bool(actor.roles & set(dashboard.roles))


def visible_dashboards(actor: Actor, app: App) -> list[Dashboard]:
    return [d for d in app.dashboards.values() if may_see(actor, d)]


class DashboardService:
    """Computes widgets for one app over its record service."""

    def __init__(
        self,
        records: RecordService,
        *,
        today: date | None = None,
        cache: ResultCache | None = None,
        summaries: bool = True,
    ) -> None:
        self.records = records
        self.cache = cache
        self.summaries = SummaryReader(records) if summaries else None
        self.app = records.app
        self.zone: tzinfo = records.timezone
        self.zone_name = str(getattr(records.timezone, "key", "UTC"))
        self._today = today
        self._tree: DepartmentTree | None = None

    def tree(self) -> DepartmentTree:
        """The department tree, read once per service (that is, per view)."""
        if self._tree is None:
            self._tree = DepartmentTree.load(self.records.engine)
        return self._tree

    def today(self) -> date:
        return self._today or datetime.now(self.zone).date()

    def dashboard(self, actor: Actor, key: str) -> Dashboard:
        """The dashboard ``key`` if the actor may see it; :class:`PermissionDenied` if not."""
        dashboard = self.app.dashboards.get(key)
        if dashboard is None or not may_see(actor, dashboard):
            raise PermissionDenied(N_("you may not see this dashboard"))
        return dashboard

    def compute_all(
        self, actor: Actor, dashboard: Dashboard, viewer: ViewerFilters
    ) -> list[WidgetResult]:
        mark = self.cache.watermark() if self.cache is not None else None
        return [self.compute(actor, w, viewer, watermark=mark) for w in dashboard.widgets]

    def compute(
        self,
        actor: Actor,
        widget: Widget,
        viewer: ViewerFilters,
        *,
        watermark: int | None = None,
    ) -> WidgetResult:
        """One widget's figures, or its ``problem`` when the viewer may not have them;
        from the cache when one is given and nothing the widget reads has changed."""
        if self.cache is None:
            return self._compute(actor, widget, viewer)
        key = (
            self.app.digest,
            repr(widget),
            (
                viewer.span,
                viewer.owner,
                tuple(sorted(viewer.fields.items())),
                viewer.department,
            ),
            actor,
            self.today(),
            self.tree().fingerprint() if self.reads_tree(widget, viewer) else None,
        )
        found: WidgetResult = self.cache.get_or_compute(
            key,
            self.app.key,
            self.forms_read(widget),
            lambda: self._compute(actor, widget, viewer),
            watermark=watermark,
        )
        return found

    @staticmethod
    def reads_tree(widget: Widget, viewer: ViewerFilters) -> bool:
        """Whether the figures depend on who is in which department: moving a person
        writes no record event, so such a result is also keyed by the tree."""
        rolled = widget.target is not None and widget.target.rollup is not None
        return rolled or viewer.department is not None

    def forms_read(self, widget: Widget) -> set[str]:
        """The forms whose changes can change the widget: its own, the target form, and the
        forms its linked dimensions and filters reach."""
        found = set(widget.forms)
        form = self.app.form(widget.form)
        keys = [d.field for d in widget.dimensions] + list(_filter_keys(widget.filter))
        for measure in widget.measures:
            keys += list(_filter_keys(measure.filter or {}))
        if widget.forecast is not None:
            keys += list(_filter_keys(widget.forecast.won))
        for key in keys:
            link, _, rest = key.partition(".")
            if rest and form.has_field(link) and form.field(link).target_form:
                found.add(form.field(link).target_form or "")
        return found

    def _compute(self, actor: Actor, widget: Widget, viewer: ViewerFilters) -> WidgetResult:
        result = WidgetResult(widget)
        try:
            for form_key in widget.forms:
                if scope_for(actor, self.app.form(form_key), Operation.READ) is Scope.NONE:
                    raise PermissionDenied(N_("you may not read these records"))
            _KINDS.get(widget.type, _grouped)(Ask(self, actor, widget, viewer), result)
        except (PermissionDenied, QueryError) as error:
            result.problem = str(error)
            result.groups, result.rows = [], []
        return result

    # filters --------------------------------------------------------------------

    def conditions(
        self, widget: Widget, viewer: ViewerFilters, span: Span | None
    ) -> tuple[list[dict[str, Any]], Drill]:
        """The widget's fixed filter and the viewer's, in the filter language and as a drill."""
        form = self.app.form(widget.form)
        found: list[dict[str, Any]] = [dict(widget.filter)] if widget.filter else []
        drill = fixed_drill(widget.filter)
        if span is not None and widget.date_field:
            found.append(self.span_condition(form, widget.date_field, span))
            drill[widget.date_field] = (span.first.isoformat(), span.last.isoformat())
        if viewer.owner is not None:
            found.append({"field": form.owner_field, "op": "eq", "value": viewer.owner})
            drill[form.owner_field] = str(viewer.owner)
        if viewer.department is not None:
            people = self.tree().people(viewer.department)
            found.append(owned_by(form, people))
            drill.setdefault(form.owner_field, people_drill(people))
        for key, value in viewer.fields.items():
            if form.has_field(key) and value in form.field(key).option_values:
                found.append({"field": key, "op": "eq", "value": value})
                drill[key] = value
        return found, drill

    def span_condition(self, form: Form, key: str, span: Span) -> dict[str, Any]:
        """Records whose date (or date-time, in the instance's zone) falls in ``span``."""
        kind = SYSTEM_FIELDS.get(key) or form.field(key).kind
        if kind is ValueKind.DATETIME:
            start = datetime.combine(span.first, time(), tzinfo=self.zone)
            end = datetime.combine(span.last + timedelta(days=1), time(), tzinfo=self.zone)
            low, high = start.isoformat(), end.isoformat()
            return {
                "and": [
                    {"field": key, "op": "gte", "value": low},
                    {"field": key, "op": "lt", "value": high},
                ]
            }
        return {
            "field": key,
            "op": "between",
            "value": [span.first.isoformat(), span.last.isoformat()],
        }

    # figures --------------------------------------------------------------------

    def figures(
        self,
        actor: Actor,
        widget: Widget,
        conditions: list[dict[str, Any]],
        group_by: Sequence[int] | None = None,
        *,
        form_key: str | None = None,
        measures: Sequence[Measure] | None = None,
        limit: int = 1000,
    ) -> tuple[tuple[str, ...], dict[tuple[Any, ...], dict[str, Number]]]:
        """Each group's figures, keyed by its dimension values; measures with their own
        filter and a ratio's two sides are asked for separately and joined here."""
        indices = list(range(len(widget.dimensions)) if group_by is None else group_by)
        aged = [i for i in indices if widget.dimensions[i].age]
        if aged:
            return self.aged_figures(
                actor, widget, conditions, indices, aged[0], form_key=form_key, measures=measures
            )
        dims = [widget.dimensions[i] for i in indices]
        keys = tuple(d.field for d in dims)
        bucket = {d.field: d.bucket for d in dims if d.bucket}
        wanted = list(measures or widget.measures)
        sides: list[tuple[str, Measure]] = [(m.name, m) for m in wanted]
        if widget.ratio is not None and measures is None:
            sides = [
                ("numerator", widget.ratio.numerator),
                ("denominator", widget.ratio.denominator),
            ]
        found = self.measured(
            actor, form_key or widget.form, conditions, keys, bucket, sides, limit=limit
        )
        if widget.ratio is not None and measures is None:
            for values in found.values():
                values["ratio"] = ratio(
                    values.get("numerator"), values.get("denominator"), widget.ratio.percent
                )
            return ("ratio", "numerator", "denominator"), found
        return tuple(name for name, _ in sides), found

    def measured(
        self,
        actor: Actor,
        form_key: str,
        conditions: list[dict[str, Any]],
        keys: tuple[str, ...],
        bucket: Mapping[str, str],
        sides: Sequence[tuple[str, Measure]],
        *,
        limit: int = 1000,
    ) -> dict[tuple[Any, ...], dict[str, Number]]:
        """Each named measure per group, all in one statement: a measure with its own filter
        counts only its rows (a conditional aggregate), and the statement reads only rows
        that at least one measure counts, so a group shows exactly when it would had each
        measure been asked alone. Without groups a count is 0, never empty."""
        names = [name for name, _ in sides]
        if len(set(names)) < len(names):  # figures under one name: the last one asked wins
            found: dict[tuple[Any, ...], dict[str, Number]] = {}
            for side in sides:
                part = self.measured(actor, form_key, conditions, keys, bucket, [side], limit=limit)
                for group, values in part.items():
                    found.setdefault(group, {}).update(values)
            return found
        spec = list(conditions)
        if keys and all(measure.filter for _, measure in sides):  # no group shows for nothing
            spec.append({"or": [dict(measure.filter or {}) for _, measure in sides]})
        aggregation = Aggregation(
            measures=tuple(measure for _, measure in sides),
            labels=tuple(names),
            group_by=keys,
            bucket=bucket,
            filter={"and": spec} if spec else None,
            timezone=self.zone_name,
            limit=limit,
        )
        kept = None
        if self.summaries is not None:  # counted as the records were written, if kept
            kept = self.summaries.measured(actor, form_key, aggregation)
        if kept is not None:
            found = kept
        else:
            found = {}
            for row in self.records.aggregate(actor, form_key, aggregation):
                found[tuple(row[k] for k in keys)] = {name: row[name] for name in names}
        if not keys:
            for values, (name, measure) in itertools.product(found.values(), sides):
                if measure.op in ("count", "distinct_count") and values[name] is None:
                    values[name] = 0
        return found

    def aged_figures(
        self,
        actor: Actor,
        widget: Widget,
        conditions: list[dict[str, Any]],
        indices: list[int],
        aged: int,
        *,
        form_key: str | None = None,
        measures: Sequence[Measure] | None = None,
    ) -> tuple[tuple[str, ...], dict[tuple[Any, ...], dict[str, Number]]]:
        """Figures by age range: one aggregate per range, each narrowed to its days by the
        date field's index, so the ranges' edges are exactly those a drill-down shows."""
        dimension = widget.dimensions[aged]
        form = self.app.form(form_key or widget.form)
        rest = [i for i in indices if i != aged]
        position = indices.index(aged)
        names: tuple[str, ...] = ()
        found: dict[tuple[Any, ...], dict[str, Number]] = {}
        for label, span in self.age_ranges(dimension).items():
            within = [*conditions, self.span_condition(form, dimension.field, span)]
            names, part = self.figures(
                actor, widget, within, rest, form_key=form_key, measures=measures
            )
            for keys, values in part.items():
                found[(*keys[:position], label, *keys[position:])] = values
        if not names:
            names = ("ratio", "numerator", "denominator") if widget.ratio and not measures else ()
            names = names or tuple(m.name for m in (measures or widget.measures))
        return names, found

    def age_ranges(self, dimension: Dimension) -> dict[str, Span]:
        """Each age range's label (``0-30``, …, ``90+``) and the days it covers, counted
        back from today in the instance's time zone; dates after today have no age yet."""
        today, start = self.today(), 0
        found: dict[str, Span] = {}
        for end in dimension.age or ():
            found[f"{start}-{end}"] = Span(
                today - timedelta(days=end), today - timedelta(days=start)
            )
            start = end + 1
        found[f"{start - 1}+"] = Span(OLDEST, today - timedelta(days=start))
        return found

    def drill_for(
        self, widget: Widget, base: Drill, keys: Sequence[Any], dims: Sequence[int]
    ) -> Drill | None:
        """``base`` narrowed to one group; ``None`` when a key cannot be expressed (a linked
        record's field) as a list filter."""
        drill = dict(base)
        for index, key in zip(dims, keys, strict=True):
            dimension = widget.dimensions[index]
            if "." in dimension.field:
                return None
            if (dimension.bucket or dimension.age) and key is not None:
                span = (
                    self.age_ranges(dimension)[str(key)]
                    if dimension.age
                    else bucket_span(dimension.bucket or "", str(key))
                )
                given = drill.get(dimension.field)
                if isinstance(given, tuple):
                    span = (
                        Span(date.fromisoformat(given[0]), date.fromisoformat(given[1])).overlap(
                            span
                        )
                        or span
                    )
                drill[dimension.field] = (span.first.isoformat(), span.last.isoformat())
            else:
                drill[dimension.field] = drill_value(key)
        return drill


def owned_by(form: Form, people: frozenset[int]) -> dict[str, Any]:
    """Records owned by one of ``people`` (none at all when the department has nobody);
    a large department's people in lists of at most :data:`MAX_VALUES` each."""
    return held_by(form.owner_field, people)


def held_by(key: str, people: frozenset[int]) -> dict[str, Any]:
    if not people:
        return {"field": "id", "op": "eq", "value": 0}
    ordered = sorted(people)
    parts = [
        {"field": key, "op": "in", "value": ordered[i : i + MAX_VALUES]}
        for i in range(0, len(ordered), MAX_VALUES)
    ]
    return parts[0] if len(parts) == 1 else {"or": parts}


def people_drill(people: frozenset[int]) -> str:
    return ",".join(str(p) for p in sorted(people)) or "0"


def _filter_keys(spec: Mapping[str, Any]) -> list[str]:
    found = [spec["field"]] if isinstance(spec.get("field"), str) else []
    for item in spec.get("and", []) + spec.get("or", []):
        found += _filter_keys(item)
    return found


def ratio(numerator: Number, denominator: Number, percent: bool) -> Decimal | None:
    if numerator is None or not denominator:
        return None
    found = Decimal(numerator) / Decimal(denominator) * (100 if percent else 1)
    return found.quantize(Decimal("0.01"))


def drill_value(key: Any) -> str:
    if key is None:
        return ""
    if isinstance(key, bool):
        return "yes" if key else "no"
    if isinstance(key, date):
        return key.isoformat()
    return str(key)


def fixed_drill(spec: Mapping[str, Any]) -> Drill:
    """The fixed filter's conditions a list URL can carry: equal to a value or one of
    several, between two dates. Others (rare in dashboards) narrow the figure only."""
    drill: Drill = {}
    for condition in spec.get("and", []):
        key, op, value = condition.get("field"), condition.get("op"), condition.get("value")
        if not isinstance(key, str) or "." in key:
            continue
        if op == "eq":
            drill[key] = drill_value(value)
        elif op == "in" and isinstance(value, list):
            drill[key] = ",".join(drill_value(v) for v in value)
        elif op == "is_empty":
            drill[key] = ""
    return drill


# the kinds ----------------------------------------------------------------------


def _number(ask: Ask, result: WidgetResult) -> None:
    service, actor, widget = ask.service, ask.actor, ask.widget
    span = ask.span()
    conditions, drill = ask.conditions(span)
    result.drill, result.span = drill, span
    if span is None or not widget.date_field:
        names, found = service.figures(actor, widget, conditions, ())
    else:
        before = previous_period(widget.period or "", span) if widget.period else span.before()
        names, found = _both_periods(ask, span, before)
    result.measures = names
    result.value = found.get((), {}).get(names[0])
    if (
        result.value is None
        and widget.ratio is None
        and widget.measure.op in ("count", "distinct_count")
    ):
        result.value = 0
    if span is not None and widget.date_field:
        result.previous = found.get(("previous",), {}).get(names[0])
        if result.previous is None and widget.ratio is None and widget.measure.op == "count":
            result.previous = 0
        if result.previous and result.value is not None:
            change = (Decimal(result.value) - Decimal(result.previous)) / abs(
                Decimal(result.previous)
            )
            result.change = (change * 100).quantize(Decimal("0.1"))


def _both_periods(
    ask: Ask, span: Span, before: Span
) -> tuple[tuple[str, ...], dict[tuple[Any, ...], dict[str, Number]]]:
    """A number's figures for its period (key ``()``) and the previous one (``("previous",)``)
    in one statement over the days of both, each measure counted once per period: half the
    scans of asking twice, and a ratio's two sides come with them."""
    service, actor, widget = ask.service, ask.actor, ask.widget
    form = service.app.form(widget.form)
    date_field = widget.date_field or ""
    both = Span(min(span.first, before.first), max(span.last, before.last))
    conditions, _ = ask.conditions(both)
    if widget.ratio is not None:
        sides = [("numerator", widget.ratio.numerator), ("denominator", widget.ratio.denominator)]
    else:
        sides = [(m.name, m) for m in widget.measures]
    split: list[tuple[str, Measure]] = []
    for period, days in (("", span), ("previous:", before)):
        within = service.span_condition(form, date_field, days)
        for name, measure in sides:
            own = [dict(measure.filter), within] if measure.filter else [within]
            split.append((period + name, Measure(measure.op, measure.field, {"and": own})))
    found = service.measured(actor, widget.form, conditions, (), {}, split)
    figures = found.get((), {})
    now = {name: figures.get(name) for name, _ in sides}
    then = {name: figures.get("previous:" + name) for name, _ in sides}
    names = tuple(name for name, _ in sides)
    if widget.ratio is not None:
        for values in (now, then):
            values["ratio"] = ratio(
                values.get("numerator"), values.get("denominator"), widget.ratio.percent
            )
        names = ("ratio", *names)
    return names, {(): now, ("previous",): then}


def _grouped(ask: Ask, result: WidgetResult) -> None:
    service, actor, widget = ask.service, ask.actor, ask.widget
    span = ask.span()
    conditions, base = ask.conditions(span)
    dims = list(range(len(widget.dimensions)))
    names, found = service.figures(actor, widget, conditions)
    result.measures, result.span = names, span
    result.groups = [
        Group(keys, values, service.drill_for(widget, base, keys, dims))
        for keys, values in found.items()
    ]
    _order(service, widget, result)
    if widget.kind == "pivot" and len(dims) == 2:
        for name, used in (("rows", [0]), ("columns", [1]), ("all", [])):
            totals = _added_up(widget, names, found, used)
            if totals is None:
                _, totals = service.figures(actor, widget, conditions, used)
            result.totals[name] = [
                Group(keys, values, service.drill_for(widget, base, keys, used))
                for keys, values in totals.items()
            ]


_ADDABLE = ("count", "sum", "min", "max")


def _added_up(
    widget: Widget,
    names: tuple[str, ...],
    cells: dict[tuple[Any, ...], dict[str, Number]],
    used: Sequence[int],
) -> dict[tuple[Any, ...], dict[str, Number]] | None:
    """A pivot's totals over the dimensions ``used``, added up from its cells: every record
    falls in exactly one cell, so a count, sum, least or greatest of the cells is that of
    their records, and the database need not scan them again. ``None`` where the cells do
    not add up (averages, medians, distinct counts) or may be cut short by the limit."""
    sides = [widget.ratio.numerator, widget.ratio.denominator] if widget.ratio else []
    ops = {name: m.op for name, m in zip(names[1:], sides, strict=True)} if sides else {}
    ops = ops or {m.name: m.op for m in widget.measures}
    if any(op not in _ADDABLE for op in ops.values()) or len(cells) >= 1000:
        return None
    totals: dict[tuple[Any, ...], dict[str, Number]] = {}
    for keys, values in cells.items():
        into = totals.setdefault(tuple(keys[i] for i in used), {})
        for name, op in ops.items():
            both = [v for v in (into.get(name), values.get(name)) if v is not None]
            if op in ("count", "sum"):
                into[name] = _total(both)
            else:
                into[name] = (min if op == "min" else max)(both, default=None)
    if widget.ratio is not None:
        for values in totals.values():
            values["ratio"] = ratio(
                values.get("numerator"), values.get("denominator"), widget.ratio.percent
            )
    return totals


def _order(service: DashboardService, widget: Widget, result: WidgetResult) -> None:
    """Funnels follow the select field's option order; ``sort`` orders by value or key."""
    name = result.measures[0]
    sort = widget.sort or ("-value" if widget.kind == "ranking" else None)
    first = widget.dimensions[0] if widget.dimensions else None
    if sort is None and first is not None and not first.bucket and "." not in first.field:
        form = service.app.form(widget.form)
        options = form.field(first.field).option_values if form.has_field(first.field) else ()
        if options:
            place = {value: index for index, value in enumerate(options)}
            result.groups.sort(key=lambda g: place.get(g.keys[0], len(place)))
    elif sort in ("value", "-value"):
        result.groups.sort(
            key=lambda g: (g.values.get(name) is None, g.values.get(name) or 0),
            reverse=sort == "-value",
        )
        if sort == "-value":  # empty figures last either way
            result.groups.sort(key=lambda g: g.values.get(name) is None)
    elif sort == "-key":
        result.groups.reverse()
    limit = widget.limit or (DEFAULT_RANKING if widget.kind == "ranking" else None)
    if limit is not None and len(widget.dimensions) == 1:
        result.groups = result.groups[:limit]


def _target(ask: Ask, result: WidgetResult) -> None:
    service, actor, widget, viewer = ask.service, ask.actor, ask.widget, ask.viewer
    source = widget.target
    assert source is not None  # the compiler requires it for this kind
    if source.rollup == "department":
        _rolled_up_target(ask, result)
        return
    _grouped(ask, result)
    span = ask.span()
    conditions: list[dict[str, Any]] = []
    target_form = service.app.form(source.form)
    if span is not None and source.date_field:
        conditions.append(service.span_condition(target_form, source.date_field, span))
    if widget.group_by == service.app.form(widget.form).owner_field:
        # the viewer's owner or department narrows the targets as it narrows the actual
        if viewer.owner is not None:
            conditions.append({"field": source.by, "op": "eq", "value": viewer.owner})
        if viewer.department is not None:
            people = service.tree().people(viewer.department)
            conditions.append(held_by(source.by, people))
    aggregation = Aggregation(
        measures=(Measure(source.measure.op, source.measure.field),),
        group_by=(source.by,),
        filter={"and": conditions} if conditions else None,
        timezone=service.zone_name,
    )
    targets = {
        row[source.by]: row[source.measure.name]
        for row in service.records.aggregate(actor, source.form, aggregation)
    }
    known = {g.keys[0] for g in result.groups}
    base = ask.conditions(span)[1]
    for key in targets:
        if key not in known:
            empty: dict[str, Number] = dict.fromkeys(result.measures)
            result.groups.append(Group((key,), empty, service.drill_for(widget, base, (key,), [0])))
    name = result.measures[0]
    for group in result.groups:
        goal = targets.get(group.keys[0])
        group.values["target"] = goal
        group.values["attainment"] = ratio(group.values.get(name), goal, True)
    result.measures = (*result.measures, "target", "attainment")


def _rolled_up_target(ask: Ask, result: WidgetResult) -> None:
    """Target against actual per department: the chosen department (else the viewer's
    own, else the top one) and those right below it. A department's actual is what its
    people and those of the departments below it own; its target is its own team target
    where one is recorded for the period, else the sum of the targets of the departments
    right below it and of its own members, so a team target is never counted twice with
    its members'."""
    service, actor, widget, viewer = ask.service, ask.actor, ask.widget, ask.viewer
    source = widget.target
    assert source is not None
    tree = service.tree()
    span = ask.span()
    conditions, base = ask.conditions(span)
    names, found = service.figures(actor, widget, conditions, [0])
    name = names[0]
    actual: dict[int, Number] = {}
    for keys, figures in found.items():
        if isinstance(keys[0], int):
            actual[keys[0]] = figures.get(name)
    personal, team = _targets(ask, source, span)

    def rolled(department: int, seen: frozenset[int]) -> Number:
        if department in team:
            return team[department]
        parts = [rolled(d, seen | {department}) for d in tree.children(department) if d not in seen]
        parts += [personal.get(p) for p in tree.members.get(department, frozenset())]
        return _total(parts)

    form = service.app.form(widget.form)
    for department in tree.shown(viewer.department or actor.department_id):
        people = tree.people(department)
        done = _total([actual.get(p) for p in people])
        goal = rolled(department, frozenset())
        drill = {k: v for k, v in base.items() if k != form.owner_field}
        drill[form.owner_field] = people_drill(people)
        values: dict[str, Number] = {name: done, "target": goal}
        values["attainment"] = ratio(done, goal, True)
        result.groups.append(Group((department,), values, drill))
    result.measures, result.span = (name, "target", "attainment"), span


def _targets(
    ask: Ask, source: TargetSource, span: Span | None
) -> tuple[dict[int, Number], dict[int, Number]]:
    """The targets the viewer may read: each person's, and each department's own."""
    service, actor = ask.service, ask.actor
    target_form = service.app.form(source.form)
    conditions: list[dict[str, Any]] = []
    if span is not None and source.date_field:
        conditions.append(service.span_condition(target_form, source.date_field, span))
    keys = (source.by, source.department) if source.department else (source.by,)
    aggregation = Aggregation(
        measures=(Measure(source.measure.op, source.measure.field),),
        group_by=keys,
        filter={"and": conditions} if conditions else None,
        timezone=service.zone_name,
        limit=MAX_GROUPS,
    )
    personal: dict[int, list[Number]] = {}
    team: dict[int, list[Number]] = {}
    for row in service.records.aggregate(actor, source.form, aggregation):
        person, department = row[source.by], row.get(source.department or "")
        if person is not None:
            personal.setdefault(person, []).append(row[source.measure.name])
        elif department is not None:
            team.setdefault(department, []).append(row[source.measure.name])
    return (
        {k: _total(v) for k, v in personal.items()},
        {k: _total(v) for k, v in team.items()},
    )


def _total(values: Sequence[Number]) -> Number:
    """The sum of the figures there are; ``None`` when there is none at all."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    total: int | Decimal = 0
    for value in present:
        total += value
    return total


def _forecast(ask: Ask, result: WidgetResult) -> None:
    """The weighted pipeline per period (each record's measure times its probability),
    the unweighted pipeline, and beside them what was won in the same periods.

    The database groups by period and probability (a percentage has few distinct
    values), so only those small groups are multiplied out here, exactly, in decimals.
    """
    service, actor, widget = ask.service, ask.actor, ask.widget
    source = widget.forecast
    assert source is not None  # the compiler requires it
    assert widget.dimensions
    span = ask.span()
    conditions, base = ask.conditions(span)
    dimension = widget.dimensions[0]
    measure = widget.measure
    weighing = Widget(
        key=widget.key,
        type="bar",
        label=widget.label,
        form=widget.form,
        dimensions=(dimension, Dimension(source.probability)),
    )
    pipeline: dict[Any, Number] = {}
    weighted: dict[Any, Decimal] = {}
    _, found = service.figures(actor, weighing, conditions, measures=(measure,), limit=MAX_GROUPS)
    for (period, probability), values in found.items():
        amount = values.get(measure.name)
        pipeline[period] = _total([pipeline.get(period), amount])
        if amount is not None and probability is not None:
            share = Decimal(amount) * Decimal(probability) / 100
            weighted[period] = weighted.get(period, Decimal(0)) + share
    won: dict[Any, Number] = {}
    won_widget, won_base = widget, base
    if source.won_date:
        won_widget = Widget(
            key=widget.key,
            type="bar",
            label=widget.label,
            form=widget.form,
            dimensions=(Dimension(source.won_date, dimension.bucket),),
            filter=source.won,
            date_field=source.won_date,
        )
        won_conditions, won_base = service.conditions(won_widget, ask.viewer, span)
        _, closed = service.figures(actor, won_widget, won_conditions, measures=(measure,))
        won = {keys[0]: values.get(measure.name) for keys, values in closed.items()}
    places = _places(service, widget)
    for period in sorted(set(pipeline) | set(won), key=lambda k: (k is None, str(k))):
        weight = weighted.get(period)
        figures: dict[str, Number] = {
            "weighted": weight.quantize(places) if weight is not None else None,
            "pipeline": pipeline.get(period),
            "won": won.get(period),
        }
        drill = service.drill_for(widget, base, (period,), [0]) if period in pipeline else None
        group = Group((period,), figures, drill)
        if period in won:  # the won bar drills into what was won, not into the pipeline
            group.drills["won"] = service.drill_for(won_widget, won_base, (period,), [0])
        result.groups.append(group)
    result.measures, result.span = ("weighted", "won", "pipeline"), span


def _places(service: DashboardService, widget: Widget) -> Decimal:
    """A weighted figure keeps the measured field's places (whole numbers for a count)."""
    form = service.app.form(widget.form)
    key = widget.measure.field
    scale = form.field(key).scale if key and form.has_field(key) else 0
    return Decimal(1).scaleb(-(scale or 0))


def _rows(ask: Ask, result: WidgetResult) -> None:
    """A table's, calendar's or Gantt's records, as the list would show them to the viewer."""
    service, actor, widget = ask.service, ask.actor, ask.widget
    span = ask.span()
    if widget.kind == "calendar" and span is None:
        today = service.today()
        span = period_span("month", today)
    conditions, drill = ask.conditions(span)
    form = service.app.form(widget.form)
    hidden = service.records.field_access(actor, widget.form).hidden
    wanted = [form.title_field, *widget.columns, widget.date_field, widget.start, widget.end]
    columns = tuple(dict.fromkeys(k for k in wanted if k and k not in hidden))
    sort_key = widget.start or widget.date_field
    sort = (SortKey(sort_key, False),) if sort_key else None
    if widget.kind == "gantt" and widget.start and widget.end:
        conditions = [*conditions, {"field": widget.start, "op": "is_not_empty"}]
    page = service.records.find(
        actor,
        widget.form,
        Query(
            filter={"and": conditions} if conditions else None,
            sort=sort,
            limit=widget.limit or TABLE_ROWS,
            fields=columns,
            with_total=True,
        ),
    )
    result.rows, result.drill, result.span = page.rows, drill, span
    result.value = page.total
    if widget.kind == "calendar" and widget.date_field:
        names, found = service.figures(
            actor,
            Widget(
                key=widget.key,
                type=widget.type,
                label=widget.label,
                form=widget.form,
                dimensions=(Dimension(widget.date_field, "day"),),
            ),
            conditions,
        )
        result.measures = names
        result.groups = [
            Group(keys, values, {**drill, widget.date_field: (str(keys[0]), str(keys[0]))})
            for keys, values in sorted(found.items(), key=lambda item: str(item[0][0]))
        ]


# a kind in a module of its own reads this module's helpers, so it is imported once they exist
from formflow.dashboards.stage_history import stage_history  # noqa: E402

_KINDS = {
    "number": _number,
    "target": _target,
    "table": _rows,
    "calendar": _rows,
    "gantt": _rows,
    "forecast": _forecast,
    "stage_history": stage_history,
}
