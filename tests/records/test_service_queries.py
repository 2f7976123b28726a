"""A save issues the same number of queries whether the table holds ten rows or ten thousand."""

from __future__ import annotations

from shop import People
from sqlalchemy import Engine, insert

from formflow.records.service import RecordService
from formflow.storage.tables import AppSchema
from support import counting_statements


def create_order_statements(
    engine: Engine, service: RecordService, people: People, account_id: int
) -> int:
    with counting_statements(engine) as statements:
        service.create(
            people.alice,
            "order",
            {
                "account": account_id,
                "discount": 5,
                "lines": [{"item": "a", "qty": 1, "price": 2}, {"item": "b", "qty": 3, "price": 4}],
            },
        )
    return len(statements)


def test_creating_a_record_costs_a_fixed_number_of_queries(
    engine: Engine, schema: AppSchema, service: RecordService, people: People
) -> None:
    account = service.create(people.alice, "account", {"name": "A"})
    small = create_order_statements(engine, service, people, account["id"])
    table = schema.table("account")
    now = account["created_at"]
    rows = [
        {
            "name": f"n{i}",
            "owner": people.alice.user_id,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for i in range(2000)
    ]
    with engine.begin() as connection:
        connection.execute(insert(table), rows)
    large = create_order_statements(engine, service, people, account["id"])
    assert small == large
    assert small <= 12
    if engine.dialect.name == "postgresql":  # the history, event and audit entry: one
        assert small <= 5


def test_updating_a_record_costs_a_fixed_number_of_queries(
    engine: Engine, service: RecordService, people: People
) -> None:
    record = service.create(people.alice, "account", {"name": "A", "code": "AB1234"})
    with counting_statements(engine) as statements:
        service.update(
            people.alice,
            "account",
            record["id"],
            {"name": "B", "code": "AB1235"},
            expected_version=1,
        )
    assert len(statements) <= 10


def test_a_record_its_author_owns_does_not_look_the_author_up(
    engine: Engine, service: RecordService, people: People
) -> None:
    with counting_statements(engine) as statements:
        service.create(people.alice, "account", {"name": "A"})
    assert not [text for text in statements if "ff_users" in text]


def test_the_rows_a_create_writes_are_in_statements_counted_like_any_other(
    engine: Engine, service: RecordService, people: People
) -> None:
    """The kept-back rows and the audit chain's statements are sent as SQL compiled once
    (formflow.storage.prepared), and still seen by SQLAlchemy's events."""
    with counting_statements(engine) as statements:
        service.create(people.alice, "account", {"name": "A"})
    sent = " ".join(statements)
    assert "INSERT INTO ff_audit_log" in sent  # the record's history
    assert "INSERT INTO ff_audit_entries" in sent
