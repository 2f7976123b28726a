"""A form's pool: who sees the records nobody owns, who may take them, and the cool-down."""

from __future__ import annotations

import pytest
from pool_support import SYSTEM, Pool

from formflow.errors import PermissionDenied, RecordNotFound, ValidationFailed
from formflow.records.access import Actor
from formflow.records.query import Query


def _names(pool: Pool, actor: Actor) -> list[str]:
    page = pool.records.find(actor, "account", Query(sort=None))
    return sorted(row["name"] for row in page.rows)


def test_the_pool_s_roles_read_unowned_records_besides_their_own(pool: Pool) -> None:
    pool.account("Pooled")
    pool.account("Ann's", "ann")
    pool.account("Bob's", "bob")
    assert _names(pool, pool.actor("ann")) == ["Ann's", "Pooled"]


def test_a_pool_record_opens_for_the_pool_s_roles(pool: Pool) -> None:
    pooled = pool.account("Pooled")
    assert pool.records.get(pool.actor("ann"), "account", pooled["id"])["name"] == "Pooled"


def test_a_role_outside_the_pool_does_not_see_it(pool: Pool) -> None:
    pooled = pool.account("Pooled")
    outsider = Actor(pool.users["ann"], roles=frozenset({"guest"}))
    with pytest.raises(PermissionDenied):
        pool.records.get(outsider, "account", pooled["id"])


def test_seeing_the_pool_is_not_editing_it(pool: Pool) -> None:
    pooled = pool.account("Pooled")
    with pytest.raises(PermissionDenied):
        pool.records.update(
            pool.actor("ann"), "account", pooled["id"], {"region": "east"}, expected_version=1
        )


def test_the_owner_cannot_be_taken_by_editing(pool: Pool) -> None:
    mine = pool.account("Mine", "ann")
    with pytest.raises(ValidationFailed) as caught:
        pool.records.update(
            pool.actor("ann"),
            "account",
            mine["id"],
            {"owner": pool.users["bob"]},
            expected_version=mine["version"],
        )
    assert list(caught.value.problems) == ["owner"]


def test_a_manager_cannot_empty_the_owner_by_editing(pool: Pool) -> None:
    mine = pool.account("Mine", "ann")
    with pytest.raises(ValidationFailed):
        pool.records.update(
            pool.actor("max"), "account", mine["id"], {"owner": None}, expected_version=1
        )


def test_a_user_who_let_a_record_go_cannot_reclaim_it_during_the_cool_down(pool: Pool) -> None:
    account = pool.account("Acme", "ann")
    pool.run("ann", "give_back", account, reason="No budget")
    pool.later(days=6, hours=23)
    with pytest.raises(ValidationFailed, match="take it back after 2026-03-16 10:00"):
        pool.run("ann", "claim", account)


def test_the_cool_down_ends_after_its_days(pool: Pool) -> None:
    account = pool.account("Acme", "ann")
    pool.run("ann", "give_back", account, reason="No budget")
    pool.later(days=7, minutes=1)
    pool.run("ann", "claim", account)
    assert pool.get("account", account["id"])["owner"] == pool.users["ann"]


def test_others_may_claim_during_someone_s_cool_down(pool: Pool) -> None:
    account = pool.account("Acme", "ann")
    pool.run("ann", "give_back", account, reason="No budget")
    pool.run("bob", "claim", account)
    assert pool.get("account", account["id"])["owner"] == pool.users["bob"]


def test_a_return_by_the_engine_starts_the_cool_down_too(pool: Pool) -> None:
    account = pool.account("Acme", "ann")
    pool.records.update(SYSTEM, "account", account["id"], {"owner": None}, expected_version=1)
    with pytest.raises(ValidationFailed, match="take it back"):
        pool.run("ann", "claim", account)


def test_out_of_reach_records_stay_not_found(pool: Pool) -> None:
    bobs = pool.account("Bob's", "bob")
    with pytest.raises(RecordNotFound):
        pool.records.get(pool.actor("ann"), "account", bobs["id"])


def test_a_record_may_link_to_a_pool_record_its_author_sees(pool: Pool) -> None:
    pooled = pool.account("Pooled")
    contact = pool.records.create(
        pool.actor("ann"), "contact", {"name": "Li", "account": pooled["id"]}
    )
    assert contact["account"] == pooled["id"]


def test_a_link_to_someone_else_s_record_stays_refused(pool: Pool) -> None:
    bobs = pool.account("Bob's", "bob")
    with pytest.raises(ValidationFailed) as refused:
        pool.records.create(pool.actor("ann"), "contact", {"name": "Li", "account": bobs["id"]})
    assert [problem.code for problem in refused.value.problems["account"]] == ["not_found"]
