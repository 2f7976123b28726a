"""Kept widget results: reused while nothing they read changes, recomputed at once after a
write to a form they read, and never shared between viewers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from shop import People
from sqlalchemy import Engine

from formflow import accounts
from formflow.dashboards import DashboardService, ResultCache, ViewerFilters
from formflow.definitions.model import Dimension, Label, Measure, Widget
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction

TOTAL = Widget(
    key="total",
    type="number",
    label=Label(en="Total"),
    form="account",
    measures=(Measure("sum", "credit"),),
)
BY_ACCOUNT_LEVEL = Widget(
    key="people",
    type="bar",
    label=Label(en="People"),
    form="person",
    dimensions=(Dimension("account.level"),),
)


@pytest.fixture
def cache(engine: Engine) -> ResultCache:
    return ResultCache(engine)


@pytest.fixture
def figures(service: RecordService, cache: ResultCache) -> DashboardService:
    return DashboardService(service, cache=cache)


@pytest.fixture
def account(service: RecordService, people: People) -> int:
    return int(service.create(people.alice, "account", {"name": "a", "credit": "5.00"})["id"])


def test_a_second_view_reuses_the_figure(
    figures: DashboardService, cache: ResultCache, people: People, account: int
) -> None:
    first = figures.compute(people.admin, TOTAL, ViewerFilters())
    second = figures.compute(people.admin, TOTAL, ViewerFilters())
    assert (second.value, cache.hits, cache.misses) == (first.value, 1, 1)


def test_a_write_shows_in_the_next_view_at_once(
    figures: DashboardService, service: RecordService, people: People, account: int
) -> None:
    figures.compute(people.admin, TOTAL, ViewerFilters())
    service.create(people.bob, "account", {"name": "b", "credit": "2.50"})
    assert figures.compute(people.admin, TOTAL, ViewerFilters()).value == Decimal("7.50")


def test_a_write_to_another_form_keeps_the_figure(
    figures: DashboardService,
    service: RecordService,
    cache: ResultCache,
    people: People,
    account: int,
) -> None:
    figures.compute(people.admin, TOTAL, ViewerFilters())
    service.create(people.alice, "person", {"account": account, "name": "p"})
    figures.compute(people.admin, TOTAL, ViewerFilters())
    assert (cache.hits, cache.misses) == (1, 1)


def test_a_change_to_a_linked_form_refreshes_a_chart_grouped_by_it(
    figures: DashboardService, service: RecordService, people: People, account: int
) -> None:
    service.create(people.alice, "person", {"account": account, "name": "p"})
    before = figures.compute(people.admin, BY_ACCOUNT_LEVEL, ViewerFilters())
    record = service.get(people.admin, "account", account)
    service.update(
        people.admin, "account", account, {"level": "B"}, expected_version=record["version"]
    )
    after = figures.compute(people.admin, BY_ACCOUNT_LEVEL, ViewerFilters())
    assert ([g.keys for g in before.groups], [g.keys for g in after.groups]) == (
        [("C",)],
        [("B",)],
    )


def test_viewers_do_not_share_kept_figures(
    figures: DashboardService, service: RecordService, people: People, account: int
) -> None:
    service.create(people.bob, "account", {"name": "b", "credit": "1.00"})
    assert figures.compute(people.admin, TOTAL, ViewerFilters()).value == Decimal("6.00")
    assert figures.compute(people.bob, TOTAL, ViewerFilters()).value == Decimal("1.00")


def test_a_person_moving_department_shows_in_a_department_view(
    service: RecordService, cache: ResultCache, people: People, engine: Engine, account: int
) -> None:
    """Moving a person writes no record event; a department's kept figure follows anyway."""
    east = people.alice.department_id
    viewer = ViewerFilters(department=east)
    before = DashboardService(service, cache=cache).compute(people.admin, TOTAL, viewer)
    assert before.value == Decimal("5.00")
    assert people.alice.user_id is not None
    with write_transaction(engine) as connection:
        accounts.update_user(
            connection,
            people.alice.user_id,
            display_name="alice",
            department_id=people.west.department_id,
            is_active=True,
            is_admin=False,
        )
    after = DashboardService(service, cache=cache).compute(people.admin, TOTAL, viewer)
    assert after.value is None
