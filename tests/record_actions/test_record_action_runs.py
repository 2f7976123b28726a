"""Running record actions: role and condition, inputs, limits, and selected records."""

from __future__ import annotations

import pytest
from pool_support import Pool

from formflow.errors import RecordNotFound, ValidationFailed
from formflow.record_actions.service import ActionLimitReached, ActionNotAvailable


def test_a_rep_claims_a_pool_account_and_owns_it(pool: Pool) -> None:
    account = pool.account("Acme")
    pool.run("ann", "claim", account)
    assert pool.get("account", account["id"])["owner"] == pool.users["ann"]


def test_an_action_is_offered_only_where_its_condition_holds(pool: Pool) -> None:
    free = pool.account("Free")
    mine = pool.account("Mine", "ann")
    ann = pool.actor("ann")
    free_keys = [
        a.key for a in pool.actions.offered(ann, "account", pool.get("account", free["id"]))
    ]
    mine_keys = [
        a.key for a in pool.actions.offered(ann, "account", pool.get("account", mine["id"]))
    ]
    assert free_keys == ["claim"]
    assert mine_keys == ["give_back"]


def test_an_action_is_offered_only_to_its_roles(pool: Pool) -> None:
    account = pool.account("Acme", "ann")
    offered = pool.actions.offered(pool.actor("max"), "account", account)
    assert [a.key for a in offered] == ["assign"]


def test_an_action_whose_condition_is_false_is_refused(pool: Pool) -> None:
    account = pool.account("Acme", "bob")
    with pytest.raises(RecordNotFound):
        pool.run("ann", "claim", account)  # bob's account is out of ann's reach
    pool.run("bob", "give_back", account, reason="No budget")
    pool.run("ann", "claim", account)
    with pytest.raises(ActionNotAvailable):
        pool.run("ann", "claim", account)  # owned now: the condition is false


def test_a_role_outside_the_action_is_refused(pool: Pool) -> None:
    account = pool.account("Acme", "ann")
    with pytest.raises(ActionNotAvailable):
        pool.run("ann", "assign", account, to=pool.users["bob"])


def test_inputs_are_validated_like_form_fields(pool: Pool) -> None:
    account = pool.account("Acme", "ann")
    with pytest.raises(ValidationFailed) as caught:
        pool.run("ann", "give_back", account, reason="x")
    assert list(caught.value.problems) == ["reason"]
    assert pool.get("account", account["id"])["owner"] == pool.users["ann"]


def test_a_missing_required_input_is_refused(pool: Pool) -> None:
    account = pool.account("Acme", "ann")
    with pytest.raises(ValidationFailed) as caught:
        pool.run("ann", "give_back", account)
    assert list(caught.value.problems) == ["reason"]


def test_steps_read_the_inputs(pool: Pool) -> None:
    account = pool.account("Acme", "ann")
    pool.run("ann", "give_back", account, reason="Went quiet")
    returned = pool.get("account", account["id"])
    assert (returned["owner"], returned["pool_reason"]) == (None, "Went quiet")


def test_the_held_limit_counts_owned_records_matching_its_filter(pool: Pool) -> None:
    pool.account("Won one", "ann", won=True)  # not counted: the filter wants won false
    pool.account("Open one", "ann")
    first, second, third = (pool.account(f"Free {n}") for n in range(3))
    pool.run("ann", "claim", first, second)
    with pytest.raises(ActionLimitReached, match="at most 3"):
        pool.run("ann", "claim", third)


def test_the_daily_limit_counts_the_user_s_runs_today(pool: Pool) -> None:
    accounts = [pool.account(f"Free {n}") for n in range(5)]
    for account in accounts[:2]:
        pool.run("ann", "claim", account)
        pool.run("ann", "give_back", account, reason="Not now")
    pool.run("ann", "claim", accounts[2], accounts[3])
    pool.run("ann", "give_back", accounts[2], reason="Not now")
    with pytest.raises(ActionLimitReached, match="4 times a day"):
        pool.run("ann", "claim", accounts[4])


def test_the_daily_limit_starts_again_the_next_day(pool: Pool) -> None:
    accounts = [pool.account(f"Free {n}") for n in range(5)]
    pool.run("ann", "claim", *accounts[:3])
    pool.run("ann", "give_back", accounts[0], reason="Not now")
    pool.run("ann", "claim", accounts[3])
    pool.run("ann", "give_back", accounts[1], reason="Not now")
    pool.later(hours=14)  # past midnight in Shanghai
    pool.run("ann", "claim", accounts[4])
    assert pool.get("account", accounts[4]["id"])["owner"] == pool.users["ann"]


def test_selected_records_are_acted_on_together(pool: Pool) -> None:
    accounts = [pool.account(f"Acme {n}", "ann") for n in range(3)]
    done = pool.run("max", "assign", *accounts, to=pool.users["bob"])
    assert done.record_ids == tuple(a["id"] for a in accounts)
    assert {pool.get("account", a["id"])["owner"] for a in accounts} == {pool.users["bob"]}


def test_a_selection_is_all_or_nothing(pool: Pool) -> None:
    free = pool.account("Free")
    taken = pool.account("Taken", "bob")
    pool.records.update(
        pool.actor("max"), "account", taken["id"], {}, expected_version=taken["version"]
    )
    with pytest.raises((ActionNotAvailable, RecordNotFound)):
        pool.run("ann", "claim", free, taken)
    assert pool.get("account", free["id"])["owner"] is None


def test_an_action_that_runs_on_one_record_refuses_a_selection(pool: Pool) -> None:
    leads = [
        pool.records.create(pool.actor("ann"), "lead", {"company": f"Lead {n}"}) for n in range(2)
    ]
    with pytest.raises(ActionNotAvailable, match="one record at a time"):
        pool.actions.run(pool.actor("ann"), "lead", [lead["id"] for lead in leads], "convert")


def test_the_daily_limit_counts_from_the_user_s_own_midnight(pool: Pool) -> None:
    pool.later(hours=15)  # 17:00 UTC: one in the morning of the 10th in Shanghai
    accounts = [pool.account(f"Free {n}") for n in range(5)]
    pool.run("ann", "claim", *accounts[:3])
    pool.run("ann", "give_back", accounts[0], reason="Not now")
    pool.run("ann", "claim", accounts[3])
    pool.run("ann", "give_back", accounts[1], reason="Not now")
    with pytest.raises(ActionLimitReached):
        pool.run("ann", "claim", accounts[4])
