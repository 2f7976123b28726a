"""A stage history widget: beside each stage's assumed probability, what actually happened.

The weighted pipeline trusts the probability each open record carries. This widget sets
beside the average of that probability over a stage's open records the stage's actual win
rate (of the records that were ever in the stage and closed in the period, the share won)
and the average days a stay in the stage took, so a manager sees which stages flatter the
forecast. The figures come from the stays the engine keeps of the stage field
(:mod:`formflow.storage.stays`), joined to the records the viewer may read; the viewer's
owner and department filters give them per person and per team.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from formflow.dashboards.periods import Span
from formflow.dashboards.service import Ask, Drill, Group, Number, WidgetResult, ratio
from formflow.definitions.model import Measure, StageSource, Widget
from formflow.records.stage_history import NOW, STAGE, StayAggregation

MEASURES = ("probability", "win_rate", "days", "closed", "won")
DAY = 86_400
DAYS_PLACES = Decimal("0.1")


@dataclass
class _Tally:
    """One stage's (and series value's) closed records, won records and ended stays."""

    closed: int = 0
    won: int = 0
    seconds: int = 0
    stays: int = 0

    def days(self) -> Decimal | None:
        if not self.stays:
            return None
        return (Decimal(self.seconds) / self.stays / DAY).quantize(DAYS_PLACES)


def stage_history(ask: Ask, result: WidgetResult) -> None:
    """Each open stage (in the field's option order): the average probability of its open
    records, its actual win rate, its average days, and how many closed records and won
    records that rate is made of."""
    service, widget = ask.service, ask.widget
    source = widget.stages
    assert source is not None  # the compiler requires it, and a group_by
    assert widget.dimensions
    span = ask.span()
    tallies = _tallies(ask, source, span)
    assumed, open_drill = _assumed(ask, source)
    closed_base = ask.conditions(span)[1]
    stage_key = widget.dimensions[0].field
    closed_base[stage_key] = ",".join(source.closed)
    dims = list(range(len(widget.dimensions)))
    options = service.app.form(widget.form).field(stage_key).option_values
    place = {value: index for index, value in enumerate(options)}
    keys = [k for k in {*tallies, *assumed} if k[0] not in source.closed]
    keys.sort(key=lambda k: (place.get(k[0], len(place)), tuple(str(v) for v in k[1:])))
    for key in keys:
        tally = tallies.get(key, _Tally())
        values: dict[str, Number] = {
            "probability": assumed.get(key),
            "win_rate": ratio(tally.won, tally.closed, True),
            "days": tally.days(),
            "closed": tally.closed,
            "won": tally.won,
        }
        drill = service.drill_for(widget, open_drill, key, dims)
        group = Group(key, values, drill)
        group.drills = {name: _ever_in(closed_base, stage_key, key, widget) for name in MEASURES}
        group.drills["probability"] = drill
        result.groups.append(group)
    result.measures, result.span = MEASURES, span


def _tallies(ask: Ask, source: StageSource, span: Span | None) -> dict[tuple[Any, ...], _Tally]:
    """The records closed in the period, counted by each stage they were ever in."""
    service, widget = ask.service, ask.widget
    stage_key = widget.dimensions[0].field
    series = tuple(d.field for d in widget.dimensions[1:])
    conditions, _ = ask.conditions(span)
    closed = [*conditions, {"field": stage_key, "op": "in", "value": list(source.closed)}]
    aggregation = StayAggregation(
        stage_key, group_by=series, filter={"and": closed}, timezone=service.zone_name
    )
    tallies: dict[tuple[Any, ...], _Tally] = {}
    for row in service.records.stay_groups(ask.actor, widget.form, aggregation):
        key = (row[STAGE], *(row[name] for name in series))
        tally = tallies.setdefault(key, _Tally())
        tally.closed += int(row["records"])
        if row[NOW] in source.won:
            tally.won += int(row["records"])
        tally.seconds += int(row["seconds"] or 0)
        tally.stays += int(row["stays"])
    return tallies


def _assumed(ask: Ask, source: StageSource) -> tuple[dict[tuple[Any, ...], Number], Drill]:
    """The average probability of each stage's open records (whatever their dates), and
    the drill-down to open records."""
    service, widget = ask.service, ask.widget
    conditions, drill = ask.conditions(None)
    if source.probability is None:
        return {}, drill
    stage_key = widget.dimensions[0].field
    options = service.app.form(widget.form).field(stage_key).option_values
    stages = [value for value in options if value not in source.closed]
    if not stages:
        return {}, drill
    still_open = {"field": stage_key, "op": "in", "value": stages}  # through the stage's index
    measure = Measure("avg", source.probability)
    _, found = service.figures(ask.actor, widget, [*conditions, still_open], measures=(measure,))
    return {keys: values.get(measure.name) for keys, values in found.items()}, drill


def _ever_in(base: Drill, stage_key: str, key: tuple[Any, ...], widget: Widget) -> Drill:
    """The closed records of the period that were ever in the stage ``key[0]`` (and hold
    the group's series values): the records a win rate and its days are made of."""
    drill = dict(base)
    drill[f"{stage_key}.ever"] = str(key[0])
    for dimension, value in zip(widget.dimensions[1:], key[1:], strict=True):
        drill[dimension.field] = "" if value is None else str(value)
    return drill
