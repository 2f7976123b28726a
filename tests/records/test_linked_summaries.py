"""A widget grouped by a linked record's field (an order's ``account.level``) is answered
from a summary that keeps the link, joined to the linked records when it is viewed: after
any mix of writes to both forms (a linked record changing level, deleted with its people,
restored; a record moved to another link, deleted, restored) every figure is the one the
records give, for an administrator, a manager and a rep, and the one worked out in Python
from the stored rows, on SQLite and PostgreSQL. A change
to the linked record writes nothing to the summary."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop import People
from sqlalchemy import Engine, select

from formflow.dashboards import DashboardService, ViewerFilters, WidgetResult
from formflow.definitions import load_app
from formflow.definitions.dashboard_summaries import summaries_of
from formflow.definitions.model import (
    App,
    Dashboard,
    DashboardFilter,
    Dimension,
    Label,
    Measure,
    Widget,
)
from formflow.errors import FormflowError
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import summary_rows
from formflow.storage.tables import AppSchema
from support import counting_statements

TODAY = date(2026, 1, 15)
LEVELS = ("A", "B", "C")
BY_LEVEL = Widget(
    key="orders_by_level",
    type="bar",
    label=Label(en="Orders by account level"),
    form="order",
    dimensions=(Dimension("account.level"),),
    measures=(Measure("count"), Measure("sum", "discount")),
)
PEOPLE_BY_LEVEL = Widget(
    key="people_by_level",
    type="pivot",
    label=Label(en="People by account level and owner"),
    form="person",
    dimensions=(Dimension("account.level"), Dimension("created_by")),
    measures=(Measure("count"),),
)
WIDGETS = (BY_LEVEL, PEOPLE_BY_LEVEL)
DASHBOARD = Dashboard(
    key="linked",
    label=Label(en="Linked"),
    widgets=WIDGETS,
    filters=(DashboardFilter("owner"), DashboardFilter("department")),
)
SLOW = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def kept(engine: Engine, shop_app: App) -> RecordService:
    """The shop with widgets over orders and people grouped by their account's level."""
    app = replace(shop_app, dashboards={"linked": DASHBOARD})
    schema = AppSchema(app)
    schema.metadata.create_all(engine)
    return RecordService(engine, schema)


@dataclass(frozen=True)
class Write:
    kind: str
    pick: int  # which earlier record (modulo how many there are)
    other: int  # which account, for a record linked to one
    who: str
    level: str
    discount: Decimal | None


writes = st.lists(
    st.builds(
        Write,
        st.sampled_from(
            [
                "account",
                "account",
                "order",
                "order",
                "person",
                "level",
                "relink",
                "delete account",
                "restore account",
                "delete order",
                "restore order",
            ]
        ),
        st.integers(0, 30),
        st.integers(0, 30),
        st.sampled_from(["alice", "bob", "west", "admin"]),
        st.sampled_from(LEVELS),
        st.none() | st.decimals(min_value=0, max_value=100, places=2),
    ),
    min_size=1,
    max_size=16,
)


def _apply(service: RecordService, people: People, write: Write, made: dict[str, list[int]]):
    """One write as the person it names (a linked record as its account's owner, who may
    read it); a write the record rules refuse (an account still ordered from) is skipped."""
    admin, who = people.admin, getattr(people, write.who)
    accounts, orders = made["account"], made["order"]
    if write.kind == "account" or not accounts:
        values = {"name": "a", "level": write.level, "owner": who.user_id}
        accounts.append(service.create(admin, "account", values)["id"])
        return
    account = accounts[write.other % len(accounts)]
    owner = service.stored("account", account)
    author = next(
        (
            p
            for p in (people.alice, people.bob, people.west)
            if owner and p.user_id == owner["owner"]
        ),
        admin,
    )
    try:
        if write.kind == "order" and owner is not None:
            values = {"account": account, "discount": write.discount}
            orders.append(service.create(author, "order", values)["id"])
        elif write.kind == "person" and owner is not None:
            service.create(author, "person", {"name": "p", "account": account})
        elif write.kind == "level" and owner is not None:
            service.update(
                admin, "account", account, {"level": write.level}, expected_version=owner["version"]
            )
        elif write.kind == "relink" and orders and owner is not None:
            order_id = orders[write.pick % len(orders)]
            current = service.stored("order", order_id)
            if current is not None:
                service.update(
                    admin,
                    "order",
                    order_id,
                    {"account": account},
                    expected_version=current["version"],
                )
        elif write.kind == "delete account" and owner is not None:
            service.delete(admin, "account", account)
        elif write.kind == "restore account" and owner is None:
            service.restore(admin, "account", account)
        elif write.kind == "delete order" and orders:
            order_id = orders[write.pick % len(orders)]
            if service.stored("order", order_id) is not None:
                service.delete(admin, "order", order_id)
        elif write.kind == "restore order" and orders:
            order_id = orders[write.pick % len(orders)]
            if service.stored("order", order_id) is None:
                service.restore(admin, "order", order_id)
    except FormflowError:
        pass


def _figures(result: WidgetResult) -> Any:
    assert result.problem is None, result.problem
    groups = [(g.keys, g.values, g.drill) for g in result.groups]
    totals = {k: [(g.keys, g.values) for g in v] for k, v in result.totals.items()}
    return groups, totals


def _same_as_live(kept: RecordService, people: People) -> None:
    summaries = DashboardService(kept, today=TODAY)
    live = DashboardService(kept, today=TODAY, summaries=False)
    viewers = [
        ViewerFilters(),
        ViewerFilters(owner=people.alice.user_id),
        ViewerFilters(department=people.alice.department_id),
    ]
    for actor in (people.admin, people.carol, people.alice, people.west):
        for viewer in viewers:
            for widget in WIDGETS:
                expected = _figures(live.compute(actor, widget, viewer))
                found = _figures(summaries.compute(actor, widget, viewer))
                assert found == expected, (widget.key, viewer, actor.user_id)


@SLOW
@given(steps=writes)
def test_a_linked_records_field_is_answered_as_the_records_do_after_any_writes(
    kept: RecordService, people: People, steps: list[Write]
) -> None:
    made: dict[str, list[int]] = {"account": [], "order": []}
    for step in steps:
        _apply(kept, people, step, made)
    _same_as_live(kept, people)
    for actor in (people.admin, people.alice):
        result = DashboardService(kept, today=TODAY).compute(actor, BY_LEVEL, ViewerFilters())
        found = {g.keys[0]: g.values for g in result.groups}
        assert found == _orders_by_level_in_python(kept, actor)


def _orders_by_level_in_python(kept: RecordService, actor: Actor) -> dict[Any, Any]:
    """What the widget shows ``actor``, worked out here from the stored rows: live orders
    (a staff member's own), by the level of their live account (one the staff member
    owns; otherwise no level)."""
    with read_transaction(kept.engine) as connection:
        accounts = {
            row.id: row
            for row in connection.execute(select(kept.schema.table("account")))
            if row._deleted_at is None
        }
        orders = [
            row
            for row in connection.execute(select(kept.schema.table("order")))
            if row._deleted_at is None
        ]
    staff = not actor.is_admin
    found: dict[Any, dict[str, Any]] = {}
    for order in orders:
        if staff and order.created_by != actor.user_id:
            continue
        account = accounts.get(order.account)
        if account is not None and staff and account.owner != actor.user_id:
            account = None
        figures = found.setdefault(account.level if account else None, {"count": 0})
        figures["count"] += 1
        if order.discount is not None:
            total = figures.get("sum_discount") or Decimal(0)
            figures["sum_discount"] = total + Decimal(str(order.discount)).quantize(Decimal("0.01"))
        figures.setdefault("sum_discount", None)
    return found


def test_a_summary_keeps_the_link_of_a_widget_grouped_by_a_linked_field(
    kept: RecordService,
) -> None:
    kept_keys = {s.form: s.keys for items in summaries_of(kept.app).values() for s in items}
    assert kept_keys == {"order": (("account", None),), "person": (("account", None),)}


def test_a_linked_field_is_read_from_the_summary_joined_to_the_linked_records(
    kept: RecordService, people: People, engine: Engine
) -> None:
    account = kept.create(people.admin, "account", {"name": "a", "level": "A"})
    kept.create(people.admin, "order", {"account": account["id"], "discount": "5.00"})
    with counting_statements(engine) as statements:
        result = DashboardService(kept, today=TODAY).compute(
            people.admin, BY_LEVEL, ViewerFilters()
        )
    assert [(g.keys, g.values) for g in result.groups] == [
        (("A",), {"count": 1, "sum_discount": Decimal("5.00")})
    ]
    selects = [s for s in statements if s.startswith("SELECT")]
    assert selects
    assert all("ff_summaries" in s for s in selects)


def test_a_linked_record_changing_its_field_moves_the_figure_without_a_summary_write(
    kept: RecordService, people: People, engine: Engine
) -> None:
    account = kept.create(people.admin, "account", {"name": "a", "level": "A"})
    kept.create(people.admin, "order", {"account": account["id"], "discount": "5.00"})

    def order_rows() -> list[tuple[Any, ...]]:
        with read_transaction(engine) as connection:
            found = select(summary_rows).where(summary_rows.c.form_key == "order")
            return sorted(tuple(row) for row in connection.execute(found))

    before = order_rows()
    kept.update(
        people.admin, "account", account["id"], {"level": "B"}, expected_version=account["version"]
    )
    assert order_rows() == before
    result = DashboardService(kept, today=TODAY).compute(people.admin, BY_LEVEL, ViewerFilters())
    assert [g.keys for g in result.groups] == [("B",)]


def test_a_rep_counts_only_own_records_and_sees_no_level_of_an_account_out_of_reach(
    kept: RecordService, people: People
) -> None:
    alices = kept.create(
        people.admin, "account", {"name": "a", "level": "A", "owner": people.alice.user_id}
    )
    bobs = kept.create(
        people.admin, "account", {"name": "b", "level": "B", "owner": people.bob.user_id}
    )
    kept.create(people.alice, "order", {"account": alices["id"], "discount": "1.00"})
    kept.create(people.bob, "order", {"account": bobs["id"], "discount": "2.00"})
    kept.create(people.admin, "order", {"account": alices["id"], "discount": "4.00"})
    staff = DashboardService(kept, today=TODAY)
    result = staff.compute(people.alice, BY_LEVEL, ViewerFilters())
    assert [(g.keys, g.values) for g in result.groups] == [
        (("A",), {"count": 1, "sum_discount": Decimal("1.00")})
    ]
    _same_as_live(kept, people)


def test_the_crm_pivot_keeps_customer_by_stage_apart_from_the_viewers_source_filter() -> None:
    crm = load_app(Path(__file__).resolve().parents[2] / "apps" / "crm_sfa")
    kept = [s.keys for s in summaries_of(crm)["opportunity"]]
    assert (("customer", None), ("stage", None)) in kept
    assert all(("source", None) in keys for keys in kept if ("customer", None) not in keys)


def test_a_link_emptied_when_its_record_is_deleted_keeps_no_summary() -> None:
    crm = load_app(Path(__file__).resolve().parents[2] / "apps" / "crm_sfa")
    by_contact = Widget(
        key="by_contact",
        type="bar",
        label=Label(en="By contact"),
        form="opportunity",
        dimensions=(Dimension("contact.name"),),  # contact: on_delete: set_null
        measures=(Measure("count"),),
    )
    board = Dashboard(key="contacts", label=Label(en="Contacts"), widgets=(by_contact,))
    assert summaries_of(replace(crm, dashboards={"contacts": board})) == {}
