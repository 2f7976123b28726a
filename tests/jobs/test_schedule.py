"""Schedules run on the instance's clock, once per wall-clock time, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from huey import SqliteHuey
from sqlalchemy import Engine

from formflow.config import load_settings
from formflow.events import Relay
from formflow.jobs import Jobs, Schedule, ScheduleError

NEW_YORK = ZoneInfo("America/New_York")  # 2026: forward at 02:00 on 8 March, back on 1 November
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_runs(schedule: Schedule, start: datetime, end: datetime) -> list[str]:
    return [
        moment.astimezone(schedule.zone).isoformat()
        for moment in schedule.runs(start.astimezone(UTC), end.astimezone(UTC))
    ]


def test_the_instance_time_zone_defaults_to_shanghai_and_is_settable() -> None:
    assert load_settings({}).timezone == SHANGHAI
    assert load_settings({"FORMFLOW_TIMEZONE": "America/New_York"}).timezone == NEW_YORK


def test_nine_in_the_morning_is_nine_on_the_instance_clock() -> None:
    schedule = Schedule("0 9 * * 1-5", SHANGHAI)
    runs = schedule.runs(datetime(2026, 12, 4, tzinfo=UTC), datetime(2026, 12, 8, tzinfo=UTC))
    assert runs == [
        datetime(2026, 12, 4, 1, 0, tzinfo=UTC),
        datetime(2026, 12, 7, 1, 0, tzinfo=UTC),
    ]


def test_a_time_the_clocks_jump_over_runs_once_when_they_land() -> None:
    schedule = Schedule("30 2 * * *", NEW_YORK)
    start, end = datetime(2026, 3, 7, tzinfo=NEW_YORK), datetime(2026, 3, 10, tzinfo=NEW_YORK)
    assert local_runs(schedule, start, end) == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]


def test_a_time_the_clocks_pass_twice_runs_once_the_first_time() -> None:
    schedule = Schedule("30 1 * * *", NEW_YORK)
    start, end = datetime(2026, 10, 31, tzinfo=NEW_YORK), datetime(2026, 11, 3, tzinfo=NEW_YORK)
    assert local_runs(schedule, start, end) == [
        "2026-10-31T01:30:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_a_morning_schedule_keeps_its_wall_time_across_both_changes() -> None:
    schedule = Schedule("0 9 * * *", NEW_YORK)
    march = local_runs(
        schedule, datetime(2026, 3, 7, tzinfo=NEW_YORK), datetime(2026, 3, 9, 12, tzinfo=NEW_YORK)
    )
    november = local_runs(
        schedule,
        datetime(2026, 10, 31, tzinfo=NEW_YORK),
        datetime(2026, 11, 2, 12, tzinfo=NEW_YORK),
    )
    assert [run[11:16] for run in march + november] == ["09:00"] * 6


def test_a_schedule_is_a_huey_periodic_job_read_in_the_zone(
    tmp_path: object, engine: Engine
) -> None:
    huey = SqliteHuey("formflow", filename=f"{tmp_path}/jobs.db", results=False)
    jobs = Jobs(huey, Relay(engine, {}))

    @jobs.periodic("reports.morning", Schedule("0 9 * * *", NEW_YORK))
    def morning() -> None:
        pass

    def due(moment: datetime) -> list[str]:  # as huey's scheduler asks: naive UTC
        naive = moment.astimezone(UTC).replace(tzinfo=None)
        return [task.name for task in huey.read_periodic(naive) if task.name != "formflow.sweep"]

    assert due(datetime(2026, 3, 7, 9, 0, tzinfo=NEW_YORK)) == ["reports.morning"]
    assert due(datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)) == ["reports.morning"]  # after DST
    assert due(datetime(2026, 3, 9, 8, 0, tzinfo=NEW_YORK)) == []  # 9:00 EST, no longer 9:00


@pytest.mark.parametrize("cron", ["0 9 * *", "61 * * * *", "every day"])
def test_an_unreadable_schedule_is_refused_with_its_text(cron: str) -> None:
    with pytest.raises(ScheduleError, match=repr(cron).replace("*", r"\*")):
        Schedule(cron, SHANGHAI)


@pytest.mark.parametrize(
    ("cron", "said"),
    [
        ("0 25 * * *", "the hour is 0 to 23 (got '25')"),
        ("61 * * * *", "the minute is 0 to 59 (got '61')"),
        ("0 9 * 13 *", "the month is 1 to 12 (got '13')"),
        ("0 9 * * 1-8", "the weekday is 0 (Sunday) to 6 (got '1-8')"),
    ],
)
def test_an_unreadable_schedule_names_the_field_and_its_range(cron: str, said: str) -> None:
    """huey says only "25 is not a valid input": the person is told which field is wrong."""
    with pytest.raises(ScheduleError) as refused:
        Schedule(cron, SHANGHAI)
    assert str(refused.value) == f"schedule {cron!r} cannot be read: {said}"
