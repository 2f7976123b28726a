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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from formflow.dashboards.cache import ResultCache
from formflow.dashboards.periods import Span, bucket_span, period_span, previous_period
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
    Widget,
)
from formflow.errors import N_, PermissionDenied, QueryError
from formflow.fields import ValueKind
from formflow.records import Actor, Query, RecordService, scope_for
from formflow.records.aggregates import Aggregation

Drill = dict[str, str | tuple[str, str]]
"""Field conditions behind a figure: ``{"stage": "won"}`` (one value, or several joined by
commas), ``{"close_date": ("2026-01-01", "2026-01-31")}`` (a range of days), or
``{"owner": ""}`` (empty)."""

Number = int | Decimal | None

DEFAULT_RANKING = 10
TABLE_ROWS = 50
CALENDAR_DAYS = 62


@dataclass(frozen=True)
class ViewerFilters:
    """What the viewer chose for the whole dashboard."""

    span: Span | None = None
    owner: int | None = None
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Group:
    """One data point: its keys (one per dimension), its figures, and its drill-down."""

    keys: tuple[Any, ...]
    values: dict[str, Number]
    drill: Drill | None


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
    ) -> None:
        self.records = records
        self.cache = cache
        self.app = records.app
        self.zone: tzinfo = records.timezone
        self.zone_name = str(getattr(records.timezone, "key", "UTC"))
        self._today = today

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
            (viewer.span, viewer.owner, tuple(sorted(viewer.fields.items()))),
            actor,
            self.today(),
        )
        found: WidgetResult = self.cache.get_or_compute(
            key,
            self.app.key,
            self.forms_read(widget),
            lambda: self._compute(actor, widget, viewer),
            watermark=watermark,
        )
        return found

    def forms_read(self, widget: Widget) -> set[str]:
        """The forms whose changes can change the widget: its own, the target form, and the
        forms its linked dimensions and filters reach."""
        found = set(widget.forms)
        form = self.app.form(widget.form)
        keys = [d.field for d in widget.dimensions] + list(_filter_keys(widget.filter))
        for measure in widget.measures:
            keys += list(_filter_keys(measure.filter or {}))
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
            _KINDS.get(widget.type, _grouped)(self, actor, widget, viewer, result)
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
    ) -> tuple[tuple[str, ...], dict[tuple[Any, ...], dict[str, Number]]]:
        """Each group's figures, keyed by its dimension values; measures with their own
        filter and a ratio's two sides are asked for separately and joined here."""
        dims = [
            widget.dimensions[i]
            for i in (range(len(widget.dimensions)) if group_by is None else group_by)
        ]
        keys = tuple(d.field for d in dims)
        bucket = {d.field: d.bucket for d in dims if d.bucket}
        wanted = list(measures or widget.measures)
        sides: list[tuple[str, Measure]] = [(m.name, m) for m in wanted]
        if widget.ratio is not None and measures is None:
            sides = [
                ("numerator", widget.ratio.numerator),
                ("denominator", widget.ratio.denominator),
            ]
        found: dict[tuple[Any, ...], dict[str, Number]] = {}
        for name, measure in sides:
            spec = [*conditions, dict(measure.filter)] if measure.filter else conditions
            aggregation = Aggregation(
                measures=(Measure(measure.op, measure.field),),
                group_by=keys,
                bucket=bucket,
                filter={"and": spec} if spec else None,
                timezone=self.zone_name,
                limit=1000,
            )
            for row in self.records.aggregate(actor, form_key or widget.form, aggregation):
                group = tuple(row[k] for k in keys)
                found.setdefault(group, {})[name] = row[measure.name]
        if widget.ratio is not None and measures is None:
            for values in found.values():
                values["ratio"] = ratio(
                    values.get("numerator"), values.get("denominator"), widget.ratio.percent
                )
            return ("ratio", "numerator", "denominator"), found
        return tuple(name for name, _ in sides), found

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
            if dimension.bucket and key is not None:
                span = bucket_span(dimension.bucket, str(key))
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


def _span(service: DashboardService, widget: Widget, viewer: ViewerFilters) -> Span | None:
    if viewer.span is not None:
        return viewer.span
    if widget.period:
        return period_span(widget.period, service.today())
    return None


def _number(
    service: DashboardService,
    actor: Actor,
    widget: Widget,
    viewer: ViewerFilters,
    result: WidgetResult,
) -> None:
    span = _span(service, widget, viewer)
    conditions, drill = service.conditions(widget, viewer, span)
    names, found = service.figures(actor, widget, conditions, ())
    result.measures = names
    result.value = found.get((), {}).get(names[0])
    if (
        result.value is None
        and widget.ratio is None
        and widget.measure.op in ("count", "distinct_count")
    ):
        result.value = 0
    result.drill, result.span = drill, span
    if span is not None and widget.date_field:
        before = previous_period(widget.period or "", span) if widget.period else span.before()
        earlier, _ = service.conditions(widget, viewer, before)
        _, then = service.figures(actor, widget, earlier, ())
        result.previous = then.get((), {}).get(names[0])
        if result.previous is None and widget.ratio is None and widget.measure.op == "count":
            result.previous = 0
        if result.previous and result.value is not None:
            change = (Decimal(result.value) - Decimal(result.previous)) / abs(
                Decimal(result.previous)
            )
            result.change = (change * 100).quantize(Decimal("0.1"))


def _grouped(
    service: DashboardService,
    actor: Actor,
    widget: Widget,
    viewer: ViewerFilters,
    result: WidgetResult,
) -> None:
    span = _span(service, widget, viewer)
    conditions, base = service.conditions(widget, viewer, span)
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
            _, totals = service.figures(actor, widget, conditions, used)
            result.totals[name] = [
                Group(keys, values, service.drill_for(widget, base, keys, used))
                for keys, values in totals.items()
            ]


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


def _target(
    service: DashboardService,
    actor: Actor,
    widget: Widget,
    viewer: ViewerFilters,
    result: WidgetResult,
) -> None:
    _grouped(service, actor, widget, viewer, result)
    source = widget.target
    assert source is not None  # the compiler requires it for this kind
    span = _span(service, widget, viewer)
    conditions: list[dict[str, Any]] = []
    target_form = service.app.form(source.form)
    if span is not None and source.date_field:
        conditions.append(service.span_condition(target_form, source.date_field, span))
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
    base = service.conditions(widget, viewer, span)[1]
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


def _rows(
    service: DashboardService,
    actor: Actor,
    widget: Widget,
    viewer: ViewerFilters,
    result: WidgetResult,
) -> None:
    """A table's, calendar's or Gantt's records, as the list would show them to the viewer."""
    span = _span(service, widget, viewer)
    if widget.kind == "calendar" and span is None:
        today = service.today()
        span = period_span("month", today)
    conditions, drill = service.conditions(widget, viewer, span)
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


_KINDS = {
    "number": _number,
    "target": _target,
    "table": _rows,
    "calendar": _rows,
    "gantt": _rows,
}
