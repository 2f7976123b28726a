"""The CRM app's automations, end to end: an approved transfer moves the customers, their
open opportunities and live contracts (a follow-up's customer is kept current by roll-ups:
tests/rollups/test_rollup_crm.py)."""

from __future__ import annotations

import pytest
from rules_support import Rules, build_rules
from sqlalchemy import Engine

from formflow import accounts
from formflow.records.access import Actor
from formflow.storage.database import write_transaction
from support import CRM_APP


@pytest.fixture
def crm(engine: Engine, password_hash: str) -> tuple[Rules, dict[str, Actor]]:
    rules = build_rules(engine, CRM_APP)
    roles = {"rep": "sales_rep", "taker": "sales_rep", "manager": "sales_manager"}
    with write_transaction(engine) as connection:
        sales = accounts.create_department(connection, "销售部")
        ids = {
            name: accounts.create_user(
                connection,
                name,
                None,
                password_hash=password_hash,
                department_id=sales,
                roles={"crm_sfa": [role]},
            )
            for name, role in roles.items()
        }
        accounts.update_department(
            connection, sales, name="销售部", parent_id=None, manager_id=ids["manager"]
        )
        people = {}
        for name, user_id in ids.items():
            user = accounts.get_user(connection, user_id)
            assert user is not None
            people[name] = accounts.actor_for(connection, user, "crm_sfa")
    return rules, people


def test_an_approved_transfer_moves_customers_with_open_deals_and_live_contracts(
    crm: tuple[Rules, dict[str, Actor]],
) -> None:
    rules, people = crm
    rep, taker, manager = people["rep"], people["taker"], people["manager"]
    customer = rules.create("customer", {"name": "华信科技"}, rep)
    common = {"customer": customer["id"], "amount": "50000", "expected_close_date": "2026-06-30"}
    open_deal = rules.create("opportunity", {"name": "扩容", **common}, rep)
    lost_deal = rules.create(
        "opportunity", {"name": "旧项目", **common, "stage": "lost", "lost_reason": "price"}, rep
    )
    contract = rules.create(
        "contract", {"name": "年度服务", "customer": customer["id"], "amount": "80000"}, rep
    )
    transfer = rules.create(
        "transfer_request",
        {
            "customers": [{"customer": customer["id"]}],
            "from_owner": rep.user_id,
            "to_owner": taker.user_id,
            "reason": "区域调整",
            "carry_contracts": False,
        },
        rep,
    )
    rules.flows.submit(rep, "customer_transfer", transfer["id"])
    assert rules.get("customer", customer["id"])["owner"] == rep.user_id
    assert manager.user_id is not None
    [task] = rules.flows.open_tasks_of(manager.user_id)
    rules.flows.decide(manager, task.id, "approve")
    assert rules.get("customer", customer["id"])["owner"] == taker.user_id
    assert rules.get("opportunity", open_deal["id"])["owner"] == taker.user_id
    assert rules.get("opportunity", lost_deal["id"])["owner"] == rep.user_id
    assert rules.get("contract", contract["id"])["owner"] == rep.user_id  # not asked for
    decided = rules.get("transfer_request", transfer["id"])
    assert (decided["status"], decided["approved_at"] is not None) == ("approved", True)
