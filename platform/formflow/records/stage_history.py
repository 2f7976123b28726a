"""What the kept stays of a stage field say about the records a person may read.

The records are chosen first (through their own indexes: closed in the period, say) and
their stays found by the record index, never the other way round: a year of closed
records is a few thousand, the stays of every record millions. For each stage a record
was ever in, and each value of the ``group_by`` fields and of the
stage field now: how many records, and the seconds and number of the stays that ended. A
dashboard reads a stage's actual win rate (of the records that were ever in it and are now
closed, the share now won) and the days it takes from these groups. The database joins the
stays to the records, so the record rules, the filter and the groups apply to the records
as on any aggregate (:func:`formflow.records.aggregates.aggregate`); only groups leave it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from formflow.errors import N_, QueryError
from formflow.records.aggregates import MAX_GROUPS, group_expression
from formflow.records.query import normalised
from formflow.records.reading import ReadContext
from formflow.storage.platform_tables import stage_stays
from formflow.storage.stays import tracked_fields

STAGE, NOW, RECORD = "stage", "now", "_record"
"""The names of a row's stage (a value the record was in) and of the value it holds now."""


@dataclass(frozen=True)
class StayAggregation:
    """Stays of the stage field ``field_key`` of the records matching ``filter``, grouped by
    the stage, ``group_by`` and the field's value now."""

    field_key: str
    group_by: tuple[str, ...] = ()
    filter: Mapping[str, Any] | None = field(default=None, compare=False)
    timezone: str = "UTC"


def stay_groups(context: ReadContext, aggregation: StayAggregation) -> list[dict[str, Any]]:
    """One row per group: ``stage``, each ``group_by`` key, ``now``, then ``records`` (how
    many records), ``seconds`` (the ended stays' time) and ``stays`` (how many ended)."""
    schema, form_key, link_scope = context.schema, context.form_key, context.link_scope
    key = aggregation.field_key
    if key not in tracked_fields(schema.app).get(form_key, ()):
        raise QueryError(N_("no stage history is kept of '%(field)s'"), field=key)
    if {STAGE, NOW, RECORD} & set(aggregation.group_by):
        raise QueryError(
            N_("'%(stage)s' and '%(now)s' name the stays' own groups"),
            field=key,
            stage=STAGE,
            now=NOW,
        )
    table = schema.table(form_key)
    groups = [
        group_expression(schema, form_key, name, None, aggregation.timezone, link_scope=link_scope)
        for name in aggregation.group_by
    ]
    now = group_expression(schema, form_key, key, None, link_scope=link_scope)
    where = context.conditions(aggregation.filter)
    chosen = (
        select(
            table.c.id.label(RECORD),
            now.label(NOW),
            *(g.label(name) for g, name in zip(groups, aggregation.group_by, strict=True)),
        )
        .where(*where)
        .cte("chosen")
        .prefix_with("MATERIALIZED")  # the records first, whatever the planner guesses
    )
    keys = [stage_stays.c.value, *(chosen.c[name] for name in aggregation.group_by)]
    keys.append(chosen.c[NOW])
    statement = (
        select(
            stage_stays.c.value.label(STAGE),
            *keys[1:],
            func.count(func.distinct(chosen.c[RECORD])).label("records"),
            func.sum(stage_stays.c.seconds).label("seconds"),
            func.count(stage_stays.c.seconds).label("stays"),
        )
        .select_from(chosen.join(stage_stays, stage_stays.c.record_id == chosen.c[RECORD]))
        .where(
            stage_stays.c.app_key == schema.app.key,
            stage_stays.c.form_key == form_key,
            stage_stays.c.field_key == key,
        )
        .group_by(*keys)
        .limit(MAX_GROUPS)
    )
    return [normalised(row) for row in context.connection.execute(statement).mappings()]
