"""A stage history's figures (each stage's actual win rate and days, beside the probability
its open records assume) compared with what Python computes from the same deals' paths,
on SQLite and PostgreSQL; the stays behind them; and what a rep and a manager see."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop import People
from sqlalchemy import Engine, select

from formflow.dashboards import DashboardService, Span, ViewerFilters, WidgetResult
from formflow.definitions import App, load_app
from formflow.definitions.model import Widget
from formflow.errors import QueryError
from formflow.records import Actor, Query
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import stage_stays
from formflow.storage.stays import fill_stays
from formflow.storage.tables import AppSchema

STAGES_DIR = Path(__file__).parent / "stages_app"
QUARTER = Span(date(2026, 1, 1), date(2026, 3, 31))
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
OPEN = ("s1", "s2", "s3")
SLOW = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_runs = itertools.count()


@pytest.fixture(scope="session")
def stages_app() -> App:
    return load_app(STAGES_DIR)


@pytest.fixture
def deals(engine: Engine, stages_app: App, schema: AppSchema) -> RecordService:
    """The deals' service, on the database the shop's people are in."""
    own = AppSchema(stages_app)
    own.metadata.create_all(engine)
    return RecordService(engine, own)


@dataclass(frozen=True)
class Deal:
    """A deal's path: the stages it goes through (and hours in each), how it ends (won,
    lost, or still open), the day it closes, its probability and its owner."""

    steps: tuple[tuple[str, int], ...]
    outcome: str | None
    closed_on: date
    probability: int | None
    owner: str

    def stays(self) -> list[tuple[str, int | None]]:
        """Each stay and its hours (``None`` for the one it is still in): consecutive
        steps in the same stage are one stay, as an update that changes nothing is."""
        found: list[list[Any]] = []
        for stage, hours in self.steps:
            if found and found[-1][0] == stage:
                found[-1][1] += hours
            else:
                found.append([stage, hours])
        if self.outcome is None:
            found[-1][1] = None
        return [(stage, hours) for stage, hours in found]

    @property
    def now(self) -> str:
        return self.outcome or self.stays()[-1][0]


paths = st.lists(
    st.builds(
        Deal,
        st.lists(
            st.tuples(st.sampled_from(OPEN), st.integers(min_value=1, max_value=900)),
            min_size=1,
            max_size=4,
        ).map(tuple),
        st.sampled_from(["won", "lost", None]),
        st.sampled_from(
            [date(2025, 12, 31), date(2026, 1, 1), date(2026, 3, 31), date(2026, 4, 1)]
        ),
        st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
        st.sampled_from(["alice", "bob", "west"]),
    ),
    min_size=1,
    max_size=8,
)


def store(service: RecordService, people: People, rows: list[Deal]) -> dict[str, Any]:
    """Walk each deal through its path, the service's clock moving on by the hours of each
    stay; returns the filter that finds just these deals."""
    prefix = f"deal{next(_runs)}-"
    now = [START]
    service.clock = lambda: now[0]
    for n, row in enumerate(rows):
        owner: Actor = getattr(people, row.owner)
        now[0] = START
        values = {
            "name": f"{prefix}{n}",
            "stage": row.steps[0][0],
            "probability": row.probability,
            "closed_on": row.closed_on,
        }
        record = service.create(owner, "deal", values)
        ends = [*(stage for stage, _ in row.steps[1:]), *([row.outcome] if row.outcome else [])]
        for (_, hours), stage in zip(row.steps, ends, strict=False):
            now[0] += timedelta(hours=hours)
            version = record["version"]
            record = service.update(
                owner, "deal", record["id"], {"stage": stage}, expected_version=version
            )
    return {"field": "name", "op": "starts_with", "value": prefix}


def widget(app: App, mine: dict[str, Any]) -> Widget:
    shown = app.dashboards["pipeline"].widgets[0]
    return dataclasses.replace(shown, filter={"and": [mine]})


def compute(
    service: RecordService, actor: Actor, shown: Widget, viewer: ViewerFilters
) -> WidgetResult:
    result = DashboardService(service).compute(actor, shown, viewer)
    assert result.problem is None
    return result


def figures(result: WidgetResult, name: str) -> dict[Any, Any]:
    return {g.keys[0]: g.values[name] for g in result.groups}


def closed_in(rows: list[Deal], span: Span) -> list[Deal]:
    return [r for r in rows if r.outcome and span.first <= r.closed_on <= span.last]


@SLOW
@given(rows=paths)
def test_each_stage_wins_as_often_as_its_closed_deals_did(
    deals: RecordService, stages_app: App, people: People, rows: list[Deal]
) -> None:
    mine = store(deals, people, rows)
    result = compute(deals, people.admin, widget(stages_app, mine), ViewerFilters(span=QUARTER))
    closed = closed_in(rows, QUARTER)
    expected: dict[str, tuple[int, int]] = {}
    for stage in OPEN:
        were = [r for r in closed if stage in {s for s, _ in r.stays()}]
        if were:
            expected[stage] = (len(were), sum(r.outcome == "won" for r in were))
    found = {k: (g.values["closed"], g.values["won"]) for k, g in _by_stage(result).items()}
    assert {k: v for k, v in found.items() if v[0]} == expected
    for stage, (count, won) in expected.items():
        rate = (Decimal(won) / count * 100).quantize(Decimal("0.01"))
        assert figures(result, "win_rate")[stage] == rate


@SLOW
@given(rows=paths)
def test_each_stage_takes_the_average_of_its_ended_stays(
    deals: RecordService, stages_app: App, people: People, rows: list[Deal]
) -> None:
    mine = store(deals, people, rows)
    result = compute(deals, people.admin, widget(stages_app, mine), ViewerFilters(span=QUARTER))
    hours: dict[str, list[int]] = {}
    for row in closed_in(rows, QUARTER):
        for stage, spent in row.stays():
            if spent is not None:
                hours.setdefault(stage, []).append(spent)
    expected = {
        stage: (Decimal(sum(spent)) / len(spent) / 24).quantize(Decimal("0.1"))
        for stage, spent in hours.items()
    }
    assert {k: v for k, v in figures(result, "days").items() if v is not None} == expected


@SLOW
@given(rows=paths)
def test_beside_each_stage_is_the_probability_its_open_deals_assume(
    deals: RecordService, stages_app: App, people: People, rows: list[Deal]
) -> None:
    mine = store(deals, people, rows)
    result = compute(deals, people.admin, widget(stages_app, mine), ViewerFilters(span=QUARTER))
    assumed: dict[str, list[int]] = {}
    for row in rows:
        if row.outcome is None and row.probability is not None:
            assumed.setdefault(row.now, []).append(row.probability)
    found = {k: v for k, v in figures(result, "probability").items() if v is not None}
    assert set(found) == set(assumed)
    for stage, given_ in assumed.items():
        assert abs(found[stage] - Decimal(sum(given_)) / len(given_)) <= Decimal("0.01")


def _by_stage(result: WidgetResult) -> dict[str, Any]:
    return {g.keys[0]: g for g in result.groups}


def test_stages_follow_the_options_and_leave_out_the_outcomes(
    deals: RecordService, stages_app: App, people: People
) -> None:
    rows = [
        Deal((("s3", 5),), "won", date(2026, 2, 1), 70, "alice"),
        Deal((("s1", 5), ("s2", 5)), "lost", date(2026, 2, 1), 10, "alice"),
    ]
    mine = store(deals, people, rows)
    result = compute(deals, people.admin, widget(stages_app, mine), ViewerFilters(span=QUARTER))
    assert [g.keys[0] for g in result.groups] == ["s1", "s2", "s3"]


def test_a_win_rate_drills_into_the_closed_deals_that_were_in_the_stage(
    deals: RecordService, stages_app: App, people: People
) -> None:
    rows = [
        Deal((("s1", 5), ("s2", 5)), "won", date(2026, 2, 1), None, "alice"),
        Deal((("s1", 5),), "lost", date(2026, 2, 1), None, "alice"),
        Deal((("s2", 5),), "lost", date(2026, 5, 1), None, "alice"),
        Deal((("s2", 5),), None, date(2026, 2, 1), 40, "alice"),
    ]
    mine = store(deals, people, rows)
    result = compute(deals, people.admin, widget(stages_app, mine), ViewerFilters(span=QUARTER))
    second = _by_stage(result)["s2"]
    drill = second.drills["win_rate"]
    assert drill is not None
    assert drill["stage.ever"] == "s2"
    assert drill["stage"] == "won,lost"
    assert drill["closed_on"] == ("2026-01-01", "2026-03-31")
    ever = {"field": "stage", "op": "ever", "value": ["s2"]}
    closed = {"field": "stage", "op": "in", "value": ["won", "lost"]}
    when = {"field": "closed_on", "op": "between", "value": ["2026-01-01", "2026-03-31"]}
    page = deals.find(people.admin, "deal", Query(filter={"and": [mine, ever, closed, when]}))
    assert len(page.rows) == second.values["closed"] == 1
    assert second.drill == {"stage": "s2"}  # its probability: the open deals in the stage


def test_a_rep_counts_only_their_own_deals_and_a_manager_their_departments(
    deals: RecordService, stages_app: App, people: People
) -> None:
    rows = [
        Deal((("s1", 5),), "won", date(2026, 2, 1), None, "alice"),
        Deal((("s1", 5),), "lost", date(2026, 2, 1), None, "bob"),
        Deal((("s1", 5),), "lost", date(2026, 2, 1), None, "west"),
    ]
    mine = store(deals, people, rows)
    shown = widget(stages_app, mine)
    viewer = ViewerFilters(span=QUARTER)
    assert figures(compute(deals, people.alice, shown, viewer), "closed") == {"s1": 1}
    assert figures(compute(deals, people.alice, shown, viewer), "win_rate") == {
        "s1": Decimal("100.00")
    }
    assert figures(compute(deals, people.carol, shown, viewer), "closed") == {"s1": 3}
    east = ViewerFilters(span=QUARTER, department=people.alice.department_id)
    assert figures(compute(deals, people.carol, shown, east), "closed") == {"s1": 2}
    assert figures(compute(deals, people.west, shown, east), "closed") == {}


def test_stays_are_filled_again_from_the_audit_trail(
    engine: Engine, deals: RecordService, people: People
) -> None:
    rows = [Deal((("s1", 5), ("s3", 7), ("s2", 1)), "won", date(2026, 2, 1), None, "alice")]
    store(deals, people, rows)
    kept = _stays(engine)
    with write_transaction(engine) as connection:
        connection.execute(stage_stays.delete())
        table = deals.schema.table("deal").name
        assert fill_stays(connection, "shop", "deal", "stage", table) == len(kept) == 4
    assert _stays(engine) == kept


def _stays(engine: Engine) -> list[tuple[Any, ...]]:
    with read_transaction(engine) as connection:
        found = connection.execute(
            select(
                stage_stays.c.record_id,
                stage_stays.c.value,
                stage_stays.c.seconds,
                stage_stays.c.left_at.is_(None),
            ).order_by(stage_stays.c.record_id, stage_stays.c.entered_at)
        )
        return [tuple(row) for row in found]


def test_no_stays_are_kept_of_a_field_no_stage_history_reads(
    engine: Engine, service: RecordService, people: People
) -> None:
    account = service.create(people.alice, "account", {"name": "n", "level": "A"})
    version = account["version"]
    service.update(people.alice, "account", account["id"], {"level": "B"}, expected_version=version)
    assert _stays(engine) == []


def test_ever_is_refused_for_a_field_whose_history_is_not_kept(
    service: RecordService, people: People
) -> None:
    ever = {"field": "level", "op": "ever", "value": ["A"]}
    with pytest.raises(QueryError, match="stage history of"):
        service.find(people.admin, "account", Query(filter=ever))
