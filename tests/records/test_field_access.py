"""Field rules hold in the record service, for every caller: readonly, set once, per-role
hidden and read-only fields, workflow-owned fields and who may hand a record on."""

from __future__ import annotations

import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from shop import People
from sqlalchemy import Engine, update

from formflow.definitions import load_app
from formflow.definitions.model import Measure, SortKey
from formflow.errors import QueryError, RecordNotFound, ValidationFailed
from formflow.records.access import Actor
from formflow.records.aggregates import Aggregation
from formflow.records.query import Query
from formflow.records.search import ensure_search_index
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import users
from formflow.storage.tables import AppSchema

DESK_DIR = Path(__file__).parent / "desk_app"
SALES_DIR = Path(__file__).parent / "sales_app"


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


def test_check_refuses_a_hidden_field_as_unknown_as_the_save_does(
    desk: RecordService, people: People
) -> None:
    alice = staff(people.alice)
    with pytest.raises(ValidationFailed) as saving:
        desk.create(alice, "ticket", {"subject": "x", "cost": "5"})
    with pytest.raises(ValidationFailed) as checking:
        desk.check(alice, "ticket", {"subject": "x", "cost": "5"})
    assert refused(checking) == refused(saving) == {"cost": ["unknown_field"]}


def test_check_refuses_a_field_the_actor_may_not_change_as_the_save_does(
    desk: RecordService, people: People
) -> None:
    alice = staff(people.alice)
    ticket = desk.create(alice, "ticket", {"subject": "x", "serial": "S-1"})
    with pytest.raises(ValidationFailed) as saving:
        desk.update(alice, "ticket", ticket["id"], {"serial": "S-2"}, expected_version=1)
    with pytest.raises(ValidationFailed) as checking:
        desk.check(alice, "ticket", {"serial": "S-2"}, ticket)
    assert refused(checking) == refused(saving) == {"serial": ["set_once"]}


def test_check_reads_an_update_over_the_record_as_stored_not_as_handed_in(
    desk: RecordService, people: People
) -> None:
    boss = manager(people.carol)
    ticket = desk.create(boss, "ticket", {"subject": "x"})
    desk.check(boss, "ticket", {"note": "n"}, {"id": ticket["id"]})  # subject is stored
    saved = desk.update(boss, "ticket", ticket["id"], {"note": "n"}, expected_version=1)
    assert saved["subject"] == "x"


def test_check_of_an_update_reaches_only_records_the_save_reaches(
    desk: RecordService, people: People
) -> None:
    ticket = desk.create(manager(people.carol), "ticket", {"subject": "x"})
    with pytest.raises(RecordNotFound):
        desk.check(staff(people.alice), "ticket", {"subject": "y"}, {"id": ticket["id"]})


@pytest.fixture
def hidden_link(engine: Engine, people: People, tmp_path: Path) -> RecordService:
    """The sales app with the contacts' link to their company hidden from staff."""
    folder = tmp_path / "sales_app"
    shutil.copytree(SALES_DIR, folder)
    contact = folder / "forms" / "contact.yaml"
    text = contact.read_text("utf-8")
    contact.write_text(text.replace("{salary: hidden}", "{salary: hidden, company: hidden}"))
    schema = AppSchema(load_app(folder))
    schema.metadata.create_all(engine)
    with write_transaction(engine) as connection:
        for form_key in schema.app.forms:
            ensure_search_index(connection, schema, form_key)
    return RecordService(engine, schema)


def linked_company(service: RecordService, people: People) -> int:
    """A company, and a contact of Alice's linking to it by the hidden link."""
    company = int(service.create(manager(people.carol), "company", {"name": "Acme"})["id"])
    service.create(
        Actor.system(),
        "contact",
        {"name": "Kim", "company": company, "owner": people.alice.user_id},
    )
    return company


def test_records_linking_by_a_hidden_link_are_not_listed_on_the_linked_record(
    hidden_link: RecordService, people: People
) -> None:
    company = linked_company(hidden_link, people)
    alice, boss = staff(people.alice), manager(people.carol)
    assert [
        (found.form_key, found.link_key)
        for found in hidden_link.linked_to(alice, "company", company, limit=10)
    ] == []
    [listed] = hidden_link.linked_to(boss, "company", company, limit=10)
    assert [row["name"] for row in listed.records] == ["Kim"]


def test_listing_the_records_linking_by_a_hidden_link_is_refused_as_unknown(
    hidden_link: RecordService, people: People
) -> None:
    company = linked_company(hidden_link, people)
    with pytest.raises(QueryError):
        hidden_link.linking(staff(people.alice), "contact", "company", company, limit=10)


@pytest.fixture
def hidden_unique(engine: Engine, people: People, tmp_path: Path) -> RecordService:
    """The desk app with a unique reference, filled from the subject, hidden from staff."""
    folder = tmp_path / "desk_app"
    shutil.copytree(DESK_DIR, folder)
    ticket = folder / "forms" / "ticket.yaml"
    text = ticket.read_text("utf-8")
    text = text.replace(
        "  - {key: note,",
        '  - {key: ref, type: text, label: Ref, unique: true, default_expr: "subject"}\n'
        "  - {key: note,",
    ).replace("{cost: hidden,", "{cost: hidden, ref: hidden,")
    ticket.write_text(text)
    schema = AppSchema(load_app(folder))
    schema.metadata.create_all(engine)
    return RecordService(engine, schema)


def test_a_save_refused_by_a_hidden_field_names_the_record_not_the_field(
    hidden_unique: RecordService, people: People
) -> None:
    hidden_unique.create(manager(people.carol), "ticket", {"subject": "x"})
    with pytest.raises(ValidationFailed) as caught:
        hidden_unique.create(staff(people.alice), "ticket", {"subject": "x"})
    assert refused(caught) == {"": ["unique"]}
    with pytest.raises(ValidationFailed) as caught:
        hidden_unique.create(manager(people.carol), "ticket", {"subject": "x"})
    assert refused(caught) == {"ref": ["unique"]}


def test_a_batch_refused_by_a_hidden_field_names_the_record_not_the_field(
    hidden_unique: RecordService, people: People
) -> None:
    hidden_unique.create(manager(people.carol), "ticket", {"subject": "x"})
    batch = hidden_unique.create_many(staff(people.alice), "ticket", [{"subject": "x"}])
    assert {key: [p.code for p in found] for key, found in batch.problems[0].items()} == {
        "": ["unique"]
    }


def test_a_change_of_hidden_fields_only_is_not_in_the_role_s_history(
    desk: RecordService, people: People
) -> None:
    alice = staff(people.alice)
    ticket = desk.create(alice, "ticket", {"subject": "x"})
    desk.update(Actor.system(), "ticket", ticket["id"], {"cost": "99.50"}, expected_version=1)
    desk.update(alice, "ticket", ticket["id"], {"subject": "y"}, expected_version=2)
    assert [entry.action for entry in desk.history(alice, "ticket", ticket["id"])] == [
        "update",
        "create",
    ]
    assert len(desk.history(people.admin, "ticket", ticket["id"])) == 3
