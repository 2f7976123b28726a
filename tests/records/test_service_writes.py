"""Creating and updating records: values checked, computed and stored, all or nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from shop import People
from sqlalchemy import event, select

from formflow.errors import RecordNotFound, StaleRecord, ValidationFailed
from formflow.records.query import normalised
from formflow.records.service import Record, RecordService


def problems(error: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, list[str]]:
    return {key: [p.code for p in found] for key, found in error.value.problems.items()}


def test_a_new_record_gets_defaults_an_id_and_version_1(
    service: RecordService, people: People
) -> None:
    record = service.create(people.alice, "account", {"name": "Acme"})
    assert record["id"] > 0
    assert (record["level"], record["owner"], record["active"], record["version"]) == (
        "C",
        people.alice.user_id,
        True,
        1,
    )
    assert record["created_by"] == people.alice.user_id


def test_every_problem_is_reported_at_once(service: RecordService, people: People) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(
            people.alice,
            "account",
            {"score": "lots", "email": "not-mail", "level": "Z", "code": "x1"},
        )
    assert problems(caught) == {
        "name": ["required"],
        "score": ["type"],
        "email": ["email"],
        "level": ["choice"],
        "code": ["pattern"],
    }


def test_unknown_and_computed_fields_are_refused(service: RecordService, people: People) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(people.alice, "order", {"number": "OR-1", "colour": "red"})
    assert problems(caught) == {"number": ["read_only"], "colour": ["unknown_field"]}


def test_values_are_converted_to_their_stored_form(service: RecordService, people: People) -> None:
    record = service.create(
        people.alice,
        "account",
        {
            "name": " Acme ",
            "phone": "138 0013 8000",
            "email": "Li@Example.COM",
            "since": "2026-01-31",
            "score": "42",
            "credit": "1,000.5",
            "tags": ["vip"],
            "active": "false",
        },
    )
    assert record["name"] == "Acme"
    assert record["phone"] == "+8613800138000"
    assert record["email"] == "Li@example.com"
    assert (record["since"], record["score"], record["credit"]) == (
        date(2026, 1, 31),
        42,
        Decimal("1000.50"),
    )
    assert (record["tags"], record["active"]) == (["vip"], False)


def test_money_with_too_many_decimals_is_refused_not_rounded(
    service: RecordService, people: People
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(people.alice, "account", {"name": "A", "credit": "10.005"})
    assert problems(caught) == {"credit": ["scale"]}


def test_a_number_longer_than_any_column_holds_is_too_large(
    service: RecordService, people: People
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(people.alice, "account", {"name": "A", "credit": "9" * 27 + ".5"})
    assert problems(caught) == {"credit": ["range"]}


def test_text_longer_than_its_column_is_refused_whatever_its_type(
    service: RecordService, people: People
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(people.alice, "account", {"name": "A", "email": "a" * 300 + "@example.com"})
    assert problems(caught) == {"email": ["max_length"]}


def test_numbers_outside_min_and_max(service: RecordService, people: People) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(people.alice, "account", {"name": "A", "score": 101})
    assert problems(caught) == {"score": ["max"]}


def test_a_unique_value_cannot_be_used_twice(service: RecordService, people: People) -> None:
    service.create(people.alice, "account", {"name": "A", "code": "AB1234"})
    with pytest.raises(ValidationFailed) as caught:
        service.create(people.bob, "account", {"name": "B", "code": "AB1234"})
    assert problems(caught) == {"code": ["unique"]}


def test_a_unique_value_is_free_again_once_its_record_is_deleted(
    service: RecordService, people: People
) -> None:
    first = service.create(people.alice, "account", {"name": "A", "code": "AB1234"})
    service.delete(people.alice, "account", first["id"])
    assert (
        service.create(people.alice, "account", {"name": "B", "code": "AB1234"})["code"] == "AB1234"
    )


def test_subtable_rows_formulas_and_auto_numbers(service: RecordService, people: People) -> None:
    order = service.create(
        people.alice,
        "order",
        {
            "discount": "10",
            "note": "bulk",
            "lines": [
                {"item": "pen", "qty": 2, "price": "3.50"},
                {"item": "ink", "qty": 1, "price": "5"},
                {"item": "", "qty": "", "price": ""},
            ],
        },
    )
    assert [line["total"] for line in order["lines"]] == [Decimal("7.00"), Decimal("5.00")]
    assert order["total"] == Decimal("10.80")
    assert order["number"] == f"OR-{date.today():%Y}-0001"
    assert service.create(people.alice, "order", {})["number"] == f"OR-{date.today():%Y}-0002"


def test_rows_are_checked_field_by_field(service: RecordService, people: People) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(
            people.alice,
            "order",
            {"lines": [{"item": "pen", "qty": 0, "price": "1"}, {"item": "ink"}]},
        )
    assert problems(caught) == {
        "lines.0.qty": ["min"],
        "lines.1.qty": ["required"],
        "lines.1.price": ["required"],
    }


def test_an_update_recomputes_formulas_from_the_rows_it_keeps(
    service: RecordService, people: People
) -> None:
    order = service.create(
        people.alice, "order", {"lines": [{"item": "pen", "qty": 2, "price": "10"}]}
    )
    updated = service.update(
        people.alice, "order", order["id"], {"discount": 5}, expected_version=1
    )
    assert updated["total"] == Decimal("19.00")
    assert service.get(people.alice, "order", order["id"])["lines"] == [
        {
            "item": "pen",
            "qty": 2,
            "price": Decimal("10.00"),
            "total": Decimal("20.00"),
            "partner": None,
        }
    ]


def test_a_hidden_field_keeps_no_value_and_is_not_required(
    service: RecordService, people: People
) -> None:
    order = service.create(people.alice, "order", {"discount": 5, "note": "typed before hiding"})
    assert order["note"] is None


def test_required_if(service: RecordService, people: People) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(people.alice, "order", {"discount": 25})
    assert problems(caught) == {"note": ["required"]}


def test_an_update_bumps_the_version_and_keeps_other_values(
    service: RecordService, people: People
) -> None:
    record = service.create(people.alice, "account", {"name": "Acme", "score": 5})
    updated = service.update(
        people.alice, "account", record["id"], {"name": "Acme Ltd"}, expected_version=1
    )
    assert (updated["name"], updated["score"], updated["version"]) == ("Acme Ltd", 5, 2)


def test_a_stale_update_is_refused(service: RecordService, people: People) -> None:
    record = service.create(people.alice, "account", {"name": "Acme"})
    service.update(people.alice, "account", record["id"], {"name": "One"}, expected_version=1)
    with pytest.raises(StaleRecord):
        service.update(people.alice, "account", record["id"], {"name": "Two"}, expected_version=1)
    assert service.get(people.alice, "account", record["id"])["name"] == "One"


def test_a_link_must_point_at_a_record_the_user_can_read(
    service: RecordService, people: People
) -> None:
    theirs = service.create(people.bob, "account", {"name": "Bob's"})
    with pytest.raises(ValidationFailed) as caught:
        service.create(people.alice, "person", {"account": theirs["id"], "name": "Li"})
    assert problems(caught) == {"account": ["not_found"]}


def test_a_link_may_point_at_a_record_of_the_users_departments(
    service: RecordService, people: People
) -> None:
    theirs = service.create(people.bob, "account", {"name": "Bob's"})
    person = service.create(people.carol, "person", {"account": theirs["id"], "name": "Li"})
    assert person["account"] == theirs["id"]


def test_a_link_must_not_point_at_a_deleted_record(service: RecordService, people: People) -> None:
    gone = service.create(people.alice, "account", {"name": "Gone"})
    service.delete(people.alice, "account", gone["id"])
    with pytest.raises(ValidationFailed) as caught:
        service.create(people.alice, "person", {"account": gone["id"], "name": "Li"})
    assert problems(caught) == {"account": ["not_found"]}


def test_one_link_value_is_checked_by_its_id_alone(service: RecordService, people: People) -> None:
    """No expanding IN of ids or of the user's departments: one statement for every user,
    compiled once; whether the user reaches the record is decided from its row."""
    account = service.create(people.carol, "account", {"name": "Mine"})
    table = service.schema.table("account").name
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    event.listen(service.engine, "before_cursor_execute", record)
    try:
        service.create(people.carol, "person", {"account": account["id"], "name": "Li"})
    finally:
        event.remove(service.engine, "before_cursor_execute", record)
    checks = [statement for statement in sent if f"FROM {table}" in statement]
    assert len(checks) == 1
    assert " IN " not in checks[0]


def test_a_user_field_must_name_an_existing_user(service: RecordService, people: People) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(people.admin, "account", {"name": "A", "owner": 999_999})
    assert problems(caught) == {"owner": ["not_found"]}


def test_text_with_a_nul_character_is_refused(service: RecordService, people: People) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(people.alice, "account", {"name": "a\x00b"})
    assert problems(caught) == {"name": ["invalid_character"]}


def test_timestamps_are_stored_and_read_back_as_the_same_moment(
    service: RecordService, people: People
) -> None:
    created = service.create(people.alice, "account", {"name": "t"})
    assert (
        service.get(people.alice, "account", created["id"])["created_at"] == created["created_at"]
    )


def test_a_link_in_a_subtable_row_must_point_at_a_record_the_user_can_read(
    service: RecordService, people: People
) -> None:
    theirs = service.create(people.bob, "account", {"name": "Bob's"})
    with pytest.raises(ValidationFailed) as caught:
        service.create(
            people.alice,
            "order",
            {"lines": [{"item": "pen", "qty": 1, "price": 1, "partner": theirs["id"]}]},
        )
    assert problems(caught) == {"lines.0.partner": ["not_found"]}


def stored_row(service: RecordService, form_key: str, record_id: int) -> Record:
    """A record as the database holds it, every column, as a workflow step reads it."""
    table = service.schema.table(form_key)
    with service.engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.id == record_id)).mappings().one()
    return normalised(row)


def test_an_update_handed_the_stored_record_changes_it_as_one_that_reads_it(
    service: RecordService, people: People
) -> None:
    record = service.create(people.alice, "account", {"name": "Acme", "score": 5})
    stored = stored_row(service, "account", record["id"])
    updated = service.update(
        people.alice,
        "account",
        record["id"],
        {"name": "Acme Ltd"},
        expected_version=1,
        stored=stored,
    )
    assert (updated["name"], updated["score"], updated["version"]) == ("Acme Ltd", 5, 2)
    assert service.get(people.alice, "account", record["id"])["name"] == "Acme Ltd"


def test_a_handed_record_that_has_moved_on_is_refused_as_stale(
    service: RecordService, people: People
) -> None:
    record = service.create(people.alice, "account", {"name": "Acme"})
    stored = stored_row(service, "account", record["id"])
    service.update(people.alice, "account", record["id"], {"name": "One"}, expected_version=1)
    with pytest.raises(StaleRecord):
        service.update(
            people.alice,
            "account",
            record["id"],
            {"name": "Two"},
            expected_version=1,
            stored=stored,
        )
    assert service.get(people.alice, "account", record["id"])["name"] == "One"


def test_a_handed_record_out_of_the_actors_reach_is_not_found(
    service: RecordService, people: People
) -> None:
    theirs = service.create(people.bob, "account", {"name": "Bob's"})
    stored = stored_row(service, "account", theirs["id"])
    with pytest.raises(RecordNotFound):
        service.update(
            people.alice,
            "account",
            theirs["id"],
            {"name": "Mine"},
            expected_version=1,
            stored=stored,
        )
    assert service.get(people.bob, "account", theirs["id"])["name"] == "Bob's"
