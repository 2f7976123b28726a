"""Field rules hold in the record service, for every caller: readonly, set once, per-role
hidden and read-only fields, workflow-owned fields and who may hand a record on."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from shop import People
from sqlalchemy import Engine, update

from formflow.definitions import load_app
from formflow.definitions.model import Measure, SortKey
from formflow.errors import QueryError, ValidationFailed
from formflow.records.access import Actor
from formflow.records.aggregates import Aggregation
from formflow.records.query import Query
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import users
from formflow.storage.tables import AppSchema

DESK_DIR = Path(__file__).parent / "desk_app"


@pytest.fixture
def desk(engine: Engine, people: People) -> RecordService:
    schema = AppSchema(load_app(DESK_DIR))
    schema.metadata.create_all(engine)
    return RecordService(engine, schema)


def staff(actor: Actor) -> Actor:
    return replace(actor, roles=frozenset({"staff"}))


def manager(actor: Actor) -> Actor:
    return replace(actor, roles=frozenset({"manager"}))


def refused(error: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, list[str]]:
    return {key: [p.code for p in found] for key, found in error.value.problems.items()}


def test_a_readonly_field_is_refused_on_input(desk: RecordService, people: People) -> None:
    with pytest.raises(ValidationFailed) as caught:
        desk.create(staff(people.alice), "ticket", {"subject": "x", "score": 5})
    assert refused(caught) == {"score": ["read_only"]}


def test_the_engine_may_set_a_readonly_field(desk: RecordService, people: People) -> None:
    ticket = desk.create(Actor.system(), "ticket", {"subject": "x", "score": 5})
    assert ticket["score"] == 5


def test_a_grant_lets_a_caller_set_a_readonly_field(desk: RecordService, people: People) -> None:
    ticket = desk.create(
        staff(people.alice), "ticket", {"subject": "x", "score": 5}, grant={"score"}
    )
    assert ticket["score"] == 5


def test_a_set_once_field_is_given_at_creation_and_fixed_after(
    desk: RecordService, people: People
) -> None:
    alice = staff(people.alice)
    ticket = desk.create(alice, "ticket", {"subject": "x", "serial": "S-1"})
    with pytest.raises(ValidationFailed) as caught:
        desk.update(alice, "ticket", ticket["id"], {"serial": "S-2"}, expected_version=1)
    assert refused(caught) == {"serial": ["set_once"]}


def test_a_value_sent_back_unchanged_is_not_refused(desk: RecordService, people: People) -> None:
    alice = staff(people.alice)
    ticket = desk.create(alice, "ticket", {"subject": "x", "serial": "S-1"})
    changed = desk.update(
        alice,
        "ticket",
        ticket["id"],
        {"subject": "y", "serial": "S-1", "owner": alice.user_id, "status": "open"},
        expected_version=1,
    )
    assert changed["subject"] == "y"


def test_a_field_read_only_for_a_role_is_refused_for_it(
    desk: RecordService, people: People
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        desk.create(staff(people.alice), "ticket", {"subject": "x", "note": "mine"})
    assert refused(caught) == {"note": ["field_denied"]}
    assert (
        desk.create(manager(people.carol), "ticket", {"subject": "x", "note": "ok"})["note"] == "ok"
    )


def test_a_workflow_owned_field_is_changed_only_by_its_workflow(
    desk: RecordService, people: People
) -> None:
    boss = manager(people.carol)
    ticket = desk.create(boss, "ticket", {"subject": "x"})
    with pytest.raises(ValidationFailed) as caught:
        desk.update(boss, "ticket", ticket["id"], {"status": "approved"}, expected_version=1)
    assert refused(caught) == {"status": ["workflow_owned"]}
    approved = desk.update(
        boss, "ticket", ticket["id"], {"status": "approved"}, expected_version=1, grant={"status"}
    )
    assert approved["status"] == "approved"


def test_a_role_without_reassign_cannot_hand_a_record_on(
    desk: RecordService, people: People
) -> None:
    alice = staff(people.alice)
    ticket = desk.create(alice, "ticket", {"subject": "x"})
    for owner in (people.bob.user_id, None):
        with pytest.raises(ValidationFailed) as caught:
            desk.update(alice, "ticket", ticket["id"], {"owner": owner}, expected_version=1)
        assert refused(caught) == {"owner": ["reassign"]}


def test_a_role_without_reassign_cannot_create_for_someone_else(
    desk: RecordService, people: People
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        desk.create(staff(people.alice), "ticket", {"subject": "x", "owner": people.bob.user_id})
    assert refused(caught) == {"owner": ["reassign"]}


def test_a_manager_hands_records_on_within_their_departments(
    desk: RecordService, people: People
) -> None:
    boss = manager(people.carol)
    ticket = desk.create(boss, "ticket", {"subject": "x"})
    moved = desk.update(
        boss, "ticket", ticket["id"], {"owner": people.west.user_id}, expected_version=1
    )
    assert moved["owner"] == people.west.user_id


def test_a_manager_cannot_hand_a_record_outside_their_departments(
    desk: RecordService, people: People
) -> None:
    east_boss = manager(people.bob)  # bob's department is East, without West below it
    ticket = desk.create(east_boss, "ticket", {"subject": "x"})
    with pytest.raises(ValidationFailed) as caught:
        desk.update(
            east_boss, "ticket", ticket["id"], {"owner": people.west.user_id}, expected_version=1
        )
    assert refused(caught) == {"owner": ["owner_out_of_reach"]}


def test_no_one_hands_a_record_to_an_inactive_user(
    desk: RecordService, people: People, engine: Engine
) -> None:
    with write_transaction(engine) as connection:
        connection.execute(
            update(users).where(users.c.id == people.bob.user_id).values(is_active=False)
        )
    boss = manager(people.carol)
    ticket = desk.create(boss, "ticket", {"subject": "x"})
    with pytest.raises(ValidationFailed) as caught:
        desk.update(boss, "ticket", ticket["id"], {"owner": people.bob.user_id}, expected_version=1)
    assert refused(caught) == {"owner": ["not_found"]}


def test_a_hidden_field_is_not_in_any_record_the_role_reads(
    desk: RecordService, people: People
) -> None:
    alice = staff(people.alice)
    ticket = desk.create(alice, "ticket", {"subject": "x"})
    desk.update(Actor.system(), "ticket", ticket["id"], {"cost": "99.50"}, expected_version=1)
    assert "cost" not in desk.get(alice, "ticket", ticket["id"])
    assert all("cost" not in row for row in desk.find(alice, "ticket").rows)
    record, trail = desk.get_with_history(alice, "ticket", ticket["id"])
    assert "cost" not in record
    assert all("cost" not in entry.changes for entry in trail)
    assert all("cost" not in entry.changes for entry in desk.history(alice, "ticket", ticket["id"]))
    assert all("cost" not in found for _form, found in desk.recent(alice))
    assert desk.get(people.admin, "ticket", ticket["id"])["cost"] is not None


def test_a_hidden_field_cannot_be_written_even_unchanged(
    desk: RecordService, people: People
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        desk.create(staff(people.alice), "ticket", {"subject": "x", "cost": None})
    assert refused(caught) == {"cost": ["unknown_field"]}


def test_a_hidden_field_does_not_hide_the_other_problems(
    desk: RecordService, people: People
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        desk.create(staff(people.alice), "ticket", {"cost": "1", "status": "shut"})
    assert refused(caught) == {
        "cost": ["unknown_field"],
        "status": ["choice"],
        "subject": ["required"],
    }


@pytest.mark.parametrize(
    "query",
    [
        Query(filter={"field": "cost", "op": "gt", "value": 10}),
        Query(filter={"or": [{"not": {"field": "cost", "op": "empty"}}]}),
        Query(sort=(SortKey("cost"),)),
        Query(fields=("subject", "cost")),
    ],
)
def test_a_hidden_field_cannot_be_probed_by_a_query(
    desk: RecordService, people: People, query: Query
) -> None:
    with pytest.raises(QueryError, match="unknown field"):
        desk.find(staff(people.alice), "ticket", query)


def test_a_hidden_field_cannot_be_probed_by_an_aggregate(
    desk: RecordService, people: People
) -> None:
    with pytest.raises(QueryError, match="unknown field"):
        desk.aggregate(
            staff(people.alice), "ticket", Aggregation(measures=(Measure("sum", "cost"),))
        )


def test_a_hidden_field_cannot_be_matched_on(desk: RecordService, people: People) -> None:
    alice = staff(people.alice)
    ticket = desk.create(alice, "ticket", {"subject": "x"})
    desk.update(Actor.system(), "ticket", ticket["id"], {"cost": "99.50"}, expected_version=1)
    with pytest.raises(QueryError, match="unknown field"):
        desk.matching(alice, "ticket", ("cost",), {(Decimal("99.50"),)})
    (found,) = desk.matching(alice, "ticket", ("subject",), {("x",)}).values()
    assert found["id"] == ticket["id"]
    assert "cost" not in found


@pytest.mark.parametrize(
    "query",
    [
        Query(filter={"field": "costs", "op": "gt", "value": 10}),
        Query(sort=(SortKey("cots"),)),
        Query(fields=("subject", "cost_")),
    ],
)
def test_a_misspelt_key_suggests_no_hidden_field(
    desk: RecordService, people: People, query: Query
) -> None:
    with pytest.raises(QueryError) as caught:
        desk.find(staff(people.alice), "ticket", query)
    assert "did you mean" not in str(caught.value)


def test_a_hidden_field_is_refused_in_the_words_of_an_unknown_one(
    desk: RecordService, people: People
) -> None:
    """The same message id, so that no language (a translated message or an English one)
    tells a hidden field apart from one that does not exist."""
    with pytest.raises(ValidationFailed) as caught:
        desk.create(staff(people.alice), "ticket", {"subject": "x", "cost": "1", "colour": "red"})
    (hidden,), (unknown,) = caught.value.problems["cost"], caught.value.problems["colour"]
    assert hidden.template == unknown.template
    assert (dict(hidden.params), dict(unknown.params)) == ({"key": "cost"}, {"key": "colour"})
