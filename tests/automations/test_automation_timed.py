"""Schedule rules run on their cron in the instance's zone; date rules run days before or
after a date field, for the records an indexed query finds; each once per minute or day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from rules_support import ZONE, MakeRules, Rules
from sqlalchemy import event

from formflow.storage.tables import derived_index_keys

REMIND = """\
key: remind
label: Remind three days before the expected close
form: opportunity
trigger: {type: date, field: expected_close, days_before: 3, at: "09:00"}
condition: "stage == 'open'"
actions:
  - set: {reminded: true}
"""

MONDAY_VIPS = """\
key: monday
label: Mondays, note the VIPs
form: customer
trigger:
  type: schedule
  cron: "0 8 * * 1"
  where: {field: level, op: eq, value: vip}
actions:
  - set: {note: monday call}
"""


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in the instance's zone, as the UTC minute the clock ticks at."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).astimezone(UTC)


def test_a_date_rule_runs_for_records_whose_date_is_that_many_days_away(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(remind=REMIND)
    close = date(2026, 3, 12)
    due = rules.create("opportunity", {"name": "Due", "expected_close": close.isoformat()})
    later = rules.create(
        "opportunity", {"name": "Later", "expected_close": (close + timedelta(days=1)).isoformat()}
    )
    won = rules.create(
        "opportunity", {"name": "Won", "expected_close": close.isoformat(), "stage": "won"}
    )
    assert rules.automations.tick(at(date(2026, 3, 9), 8, 59)) == 0
    assert rules.automations.tick(at(date(2026, 3, 9), 9, 0)) == 1
    assert rules.get("opportunity", due["id"])["reminded"] is True
    assert rules.get("opportunity", later["id"])["reminded"] is not True
    assert rules.get("opportunity", won["id"])["reminded"] is not True
    [run] = rules.runs(automation_key="remind")
    assert run.trigger == "date expected_close -3d 09:00"


def test_a_date_rule_runs_once_a_day_however_often_the_clock_ticks(make_rules: MakeRules) -> None:
    rules = make_rules(remind=REMIND)
    rules.create("opportunity", {"name": "Due", "expected_close": "2026-03-12"})
    nine = at(date(2026, 3, 9), 9, 0)
    assert rules.automations.tick(nine) == 1
    assert rules.automations.tick(nine) == 0
    assert len(rules.runs()) == 1


def test_a_schedule_runs_on_its_cron_in_the_instance_zone_for_the_records_it_filters(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(monday=MONDAY_VIPS)
    vip = rules.create("customer", {"name": "Big", "level": "vip"})
    small = rules.create("customer", {"name": "Small", "level": "a"})
    monday = date(2026, 3, 9)
    assert rules.automations.tick(at(monday, 9, 0)) == 0  # 09:00 is not 08:00
    assert rules.automations.tick(at(monday, 8, 0)) == 1  # 00:00 UTC
    assert rules.get("customer", vip["id"])["note"] == "monday call"
    assert rules.get("customer", small["id"])["note"] is None
    assert rules.automations.tick(at(monday + timedelta(days=1), 8, 0)) == 0  # a Tuesday


def test_a_disabled_rule_never_runs(make_rules: MakeRules) -> None:
    rules = make_rules(monday=MONDAY_VIPS + "enabled: false\n")
    rules.create("customer", {"name": "Big", "level": "vip"})
    assert rules.automations.tick(at(date(2026, 3, 9), 8, 0)) == 0


def test_the_date_field_of_a_date_rule_gets_an_index(make_rules: MakeRules) -> None:
    rules = make_rules(remind=REMIND)
    indexed = [
        tuple(key.field for key in keys)
        for keys, _unique in derived_index_keys(rules.app.form("opportunity"))
    ]
    assert ("expected_close", "id") in indexed


def sweep_statements(rules: Rules, minute: datetime) -> list[tuple[str, object]]:
    """The SELECTs on the opportunities a tick at ``minute`` sends."""
    seen: list[tuple[str, object]] = []

    def keep(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        if (
            statement.lstrip().upper().startswith("SELECT")
            and "ORDER BY rules__opportunity.expected_close" in statement
        ):
            seen.append((statement, parameters))

    event.listen(rules.engine, "before_cursor_execute", keep)
    try:
        rules.automations.tick(minute)
    finally:
        event.remove(rules.engine, "before_cursor_execute", keep)
    return seen


def test_a_date_rule_finds_its_records_page_by_page_through_an_index_search(
    make_rules: MakeRules,
) -> None:
    """What keeps a sweep's cost to the records due, not the form's size: SQLite plans the
    first page and every next one (by keyset, after the last record read) as a search of
    the date field's index, never a scan of the table."""
    rules = make_rules(remind=REMIND)
    if rules.engine.dialect.name != "sqlite":
        pytest.skip("the plan is read from SQLite's EXPLAIN QUERY PLAN")
    rules.automations.page = 2
    for number in range(5):
        rules.create("opportunity", {"name": f"Due {number}", "expected_close": "2026-03-12"})
    seen = sweep_statements(rules, at(date(2026, 3, 9), 9, 0))
    assert len(seen) == 3  # pages of 2, 2 and 1
    with rules.engine.connect() as connection:
        for statement, parameters in seen:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            details = " ".join(str(row[-1]) for row in plan)
            assert "USING INDEX ix__rules__opportunity__expected_close" in details, details
            assert "SCAN " not in details, details
    assert len(rules.runs(automation_key="remind")) == 5


def test_one_timed_rule_is_swept_alone_at_any_minute(make_rules: MakeRules) -> None:
    rules = make_rules(remind=REMIND, monday=MONDAY_VIPS)
    due = rules.create("opportunity", {"name": "Due", "expected_close": "2026-03-12"})
    rules.create("customer", {"name": "Big", "level": "vip"})
    assert rules.automations.sweep("rules", "remind", at(date(2026, 3, 9), 14, 30)) == 1
    assert rules.get("opportunity", due["id"])["reminded"] is True
    assert [run.automation_key for run in rules.runs()] == ["remind"]
    assert rules.automations.tick(at(date(2026, 3, 9), 9, 0)) == 0  # done for the day


def test_a_date_rule_s_pages_sort_on_the_date_as_it_is(make_rules: MakeRules) -> None:
    """Its range keeps empty dates out, so its pages need no rule for them (no ``NULLS
    FIRST``): PostgreSQL's index, in its default order, hands the day's rows over in order
    instead of sorting them again for every page."""
    rules = make_rules(remind=REMIND)
    rules.automations.page = 2
    for number in range(3):
        rules.create("opportunity", {"name": f"Due {number}", "expected_close": "2026-03-12"})
    seen = sweep_statements(rules, at(date(2026, 3, 9), 9, 0))
    assert len(seen) == 2
    assert all("NULLS" not in statement.upper() for statement, _ in seen)
    assert len(rules.runs(automation_key="remind")) == 3
