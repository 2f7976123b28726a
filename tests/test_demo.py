"""`formflow demo`: a CRM instance with a demo company, entered through the record service."""

from __future__ import annotations

import random
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import phonenumbers
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from stdnum.cn import uscc

from formflow import accounts
from formflow.cli import main
from formflow.config import Settings, load_settings
from formflow.lifecycle.demos import DemoSummary, iter_logins, load_demo
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor
from formflow.records.query import Query
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import stage_stays
from support import CRM_APP, AppWriter

demo = load_demo(CRM_APP)  # the CRM app's own demo package
company, credit_code = demo.fake.company, demo.fake.credit_code

TODAY = date(2025, 6, 16)
SEED = 7

pytestmark = pytest.mark.slow


def demo_settings(folder: Path) -> Settings:
    return load_settings(
        {"FORMFLOW_INSTANCE": str(folder), "FORMFLOW_APPS": str(CRM_APP)}, secure_cookies=False
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, DemoSummary]:
    settings = demo_settings(tmp_path_factory.mktemp("demo"))
    return settings, demo.build(settings, seed=SEED, today=TODAY)


@pytest.fixture(scope="module")
def instance(built: tuple[Settings, DemoSummary]) -> Iterator[Instance]:
    opened = Instance(built[0])
    yield opened
    opened.close()


def everything(instance: Instance, form_key: str, actor: Actor | None = None) -> list[dict]:  # type: ignore[type-arg]
    rows: list[dict] = []  # type: ignore[type-arg]
    cursor = None
    while True:
        page = instance.records(demo.APP_KEY).find(
            actor or Actor.system(), form_key, Query(limit=500, cursor=cursor, with_total=False)
        )
        rows += page.rows
        if not page.next_cursor:
            return rows
        cursor = page.next_cursor


def actor_of(instance: Instance, username: str) -> Actor:
    with read_transaction(instance.engine) as connection:
        user = accounts.find_user(connection, username)
        assert user is not None
        return accounts.actor_for(connection, user, demo.APP_KEY)


# what it makes ---------------------------------------------------------------------------


def test_it_fills_every_part_of_the_sales_cycle(built: tuple[Settings, DemoSummary]) -> None:
    summary = built[1]
    assert summary.created
    for form_key in (
        "product",
        "lead",
        "customer",
        "contact",
        "follow_up",
        "opportunity",
        "quote",
        "contract",
        "payment_plan",
        "invoice",
        "payment",
        "service_ticket",
    ):
        assert summary.counts.get(form_key, 0) > 0, form_key
    assert summary.counts["customer"] >= 140
    assert summary.total >= 500


def test_users_of_every_role_with_the_demo_password(
    built: tuple[Settings, DemoSummary], instance: Instance
) -> None:
    logins = built[1].logins
    assert logins[0].username == "admin"
    assert all(login.password == demo.DEMO_PASSWORD for login in logins)
    with read_transaction(instance.engine) as connection:
        roles = accounts.roles_by_user(connection)
        held = Counter(
            role
            for user in accounts.list_users(connection)
            for role in roles.get(user.id, {}).get(demo.APP_KEY, ())
        )
        assert accounts.authenticate(connection, "liuyang", demo.DEMO_PASSWORD) is not None
    assert held["sales_rep"] == 6
    assert held["sales_manager"] == 2
    assert held["sales_director"] == held["finance"] == held["admin"] == 1


def test_departments_form_the_sales_company(instance: Instance) -> None:
    with read_transaction(instance.engine) as connection:
        tree = [
            (department.name, depth)
            for department, depth in accounts.department_tree(accounts.list_departments(connection))
        ]
    assert tree == [("财务部", 0), ("销售部", 0), ("华东区", 1), ("华南区", 1)]


def test_customers_have_valid_credit_codes_and_chinese_company_names(instance: Instance) -> None:
    customers = everything(instance, "customer")
    codes = [customer["credit_code"] for customer in customers]
    assert len(set(codes)) == len(codes)
    assert all(uscc.is_valid(code) for code in codes)
    assert len({customer["name"] for customer in customers}) == len(customers)
    assert all(re.search(r"(有限公司|股份有限公司)$", c["name"]) for c in customers)
    assert all(c["address"].startswith(("上海市", "北京市", "江苏省", "浙江省", "广东省", "广西", "湖北省", "四川省")) for c in customers)  # fmt: skip


def test_phone_numbers_are_valid(instance: Instance) -> None:
    contacts = everything(instance, "contact")
    for contact in contacts:
        number = phonenumbers.parse(contact["phone"])
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE


def test_records_belong_to_the_people_who_entered_them(instance: Instance) -> None:
    rep = actor_of(instance, "liuyang")
    seen = everything(instance, "customer", rep)
    mine = [customer for customer in seen if customer["owner"] is not None]
    assert 15 <= len(mine) <= 30
    assert all(customer["owner"] == rep.user_id for customer in mine)  # the rest: the pool
    assert all(customer["created_by"] == rep.user_id for customer in mine)
    history = instance.records(demo.APP_KEY).history(rep, "customer", mine[0]["id"])
    assert history[-1].action == "create"


def test_some_customers_wait_in_the_public_pool(instance: Instance) -> None:
    pooled = [c for c in everything(instance, "customer") if c["owner"] is None]
    assert len(pooled) >= 10
    assert all(c["in_pool"] and c["pool_reason"] and c["previous_owner"] for c in pooled)


def test_opportunities_span_every_stage(instance: Instance) -> None:
    opportunities = everything(instance, "opportunity")
    stages = Counter(o["stage"] for o in opportunities)
    assert set(stages) == {
        "initial_contact",
        "needs_analysis",
        "proposal",
        "negotiation",
        "won",
        "lost",
    }
    assert all(o["amount"] > 0 for o in opportunities)
    assert all(o["lost_reason"] for o in opportunities if o["stage"] == "lost")


def test_won_deals_went_through_every_open_stage_for_days(instance: Instance) -> None:
    """The stage history dashboard has stays to read: each move was made on its own day."""
    with read_transaction(instance.engine) as connection:
        ended = connection.execute(
            select(stage_stays.c.record_id, stage_stays.c.value, stage_stays.c.seconds).where(
                stage_stays.c.form_key == "opportunity", stage_stays.c.seconds.is_not(None)
            )
        ).all()
    for deal in [o for o in everything(instance, "opportunity") if o["stage"] == "won"]:
        stays = {value: seconds for record, value, seconds in ended if record == deal["id"]}
        assert set(stays) == {"initial_contact", "needs_analysis", "proposal", "negotiation"}
        assert min(stays.values()) > 86400


def test_each_won_deal_has_the_contract_its_automation_drafted(instance: Instance) -> None:
    won = {o["id"]: o for o in everything(instance, "opportunity") if o["stage"] == "won"}
    contracts = everything(instance, "contract")
    assert sorted(c["opportunity"] for c in contracts) == sorted(won)
    assert all(c["created_at"] == won[c["opportunity"]]["stage_changed_at"] for c in contracts)


def test_numbers_come_from_the_record_service(instance: Instance) -> None:
    contracts = everything(instance, "contract")
    assert all(re.fullmatch(r"HT-\d{8}-\d{4}", c["number"]) for c in contracts)
    quotes = everything(instance, "quote")
    assert all(re.fullmatch(r"QT-\d{8}-\d{4}", q["number"]) for q in quotes)


def test_payment_plans_add_up_to_their_contracts(instance: Instance) -> None:
    plans: dict[int, Decimal] = {}
    for plan in everything(instance, "payment_plan"):
        plans[plan["contract"]] = plans.get(plan["contract"], Decimal(0)) + plan["amount"]
    contracts = {c["id"]: c for c in everything(instance, "contract")}
    assert plans
    for contract_id, total in plans.items():
        assert total == contracts[contract_id]["amount"]
    received: dict[int, Decimal] = {}
    for payment in everything(instance, "payment"):
        received[payment["contract"]] = received.get(payment["contract"], 0) + payment["amount"]
    for contract_id, total in received.items():
        assert contracts[contract_id]["received_amount"] == total
        assert contracts[contract_id]["status"] in ("approved", "signed", "executing", "completed")


# running it again, and where it does not go ----------------------------------------------


def test_running_it_again_only_reports_the_logins(
    built: tuple[Settings, DemoSummary],
) -> None:
    settings, first = built
    again = demo.build(settings, seed=SEED, today=TODAY)
    assert not again.created
    assert again.logins == first.logins
    assert again.counts == {}


def test_the_command_prints_how_to_sign_in(built: tuple[Settings, DemoSummary]) -> None:
    env = {"FORMFLOW_INSTANCE": str(built[0].instance), "FORMFLOW_APPS": str(CRM_APP)}
    result = CliRunner().invoke(main, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    assert "already has the demo data" in result.output
    assert "http://127.0.0.1:5000/" in result.output
    assert re.search(r"wangqiang\s+demo1234\s+王强 · Sales director \(销售总监\)", result.output)


def test_the_same_seed_gives_the_same_company(
    built: tuple[Settings, DemoSummary], instance: Instance, tmp_path: Path
) -> None:
    settings = demo_settings(tmp_path / "again")
    demo.build(settings, seed=SEED, today=TODAY)
    twin = Instance(settings)
    try:
        fields = ("name", "credit_code", "owner", "address")
        first = [tuple(c[f] for f in fields) for c in everything(instance, "customer")]
        second = [tuple(c[f] for f in fields) for c in everything(twin, "customer")]
        assert sorted(first) == sorted(second)
        amounts = sorted(o["amount"] for o in everything(instance, "opportunity"))
        assert amounts == sorted(o["amount"] for o in everything(twin, "opportunity"))
    finally:
        twin.close()


def test_another_seed_gives_other_companies() -> None:
    def names(seed: int) -> list[str]:
        rng, taken = random.Random(seed), set()  # type: ignore[var-annotated]
        return [company(rng, taken).name for _ in range(20)]

    assert names(1) == names(1)
    assert names(1) != names(2)


def test_it_keeps_out_of_an_instance_in_use(tmp_path: Path, write_app: AppWriter) -> None:
    settings = demo_settings(tmp_path / "in-use")
    initialise(settings, [write_app()], "admin", "password-1")
    instance = Instance(settings)
    with write_transaction(instance.engine) as connection:
        accounts.create_user(connection, "someone", "password-1")
    try:
        with pytest.raises(demo.DemoError, match="already has users or customers"):
            demo.build(settings, seed=SEED, today=TODAY)
        instance.forget()
        assert demo.APP_KEY not in instance.app_keys  # refused before changing anything
    finally:
        instance.close()


def test_an_admin_with_another_password_is_shown_without_it(
    built: tuple[Settings, DemoSummary], tmp_path: Path
) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(built[0].instance, folder)
    settings = demo_settings(folder)
    instance = Instance(settings)
    with write_transaction(instance.engine) as connection:
        accounts.set_password(connection, "admin", "my-own-password")
    instance.close()
    summary = demo.build(settings, seed=SEED, today=TODAY)
    admin = summary.logins[0]
    assert (admin.username, admin.password) == ("admin", None)
    assert "formflow init" in next(iter_logins(summary))[3]


def test_credit_codes_follow_gb_32100() -> None:
    rng = random.Random(3)
    for _ in range(200):
        code = credit_code(rng, "310115")
        assert uscc.is_valid(code)
        assert code.startswith("91310115")
        assert re.fullmatch(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}", code)
