"""Creating many records at once: each row checked as a single create, good rows stored
together with their numbers, rows, audit entries and events."""

from __future__ import annotations

from shop import People
from sqlalchemy import func, select

from formflow.records.service import RecordService
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import audit_log, events


def test_good_rows_are_stored_and_bad_rows_reported_by_position(
    service: RecordService, people: People
) -> None:
    batch = service.create_many(
        people.alice,
        "account",
        [{"name": "Acme", "code": "AC0001"}, {"score": "lots"}, {"name": "Bolt"}],
    )
    assert sorted(batch.created) == [0, 2]
    assert {key: [p.code for p in found] for key, found in batch.problems[1].items()} == {
        "name": ["required"],
        "score": ["type"],
    }
    assert batch.created[0]["level"] == "C"
    assert batch.created[0]["owner"] == people.alice.user_id


def test_every_stored_row_leaves_an_audit_entry_and_an_event(
    service: RecordService, people: People
) -> None:
    service.create_many(people.alice, "account", [{"name": f"A{n}"} for n in range(5)])
    with read_transaction(service.engine) as connection:
        audited = connection.execute(select(func.count()).select_from(audit_log)).scalar()
        announced = connection.execute(select(func.count()).select_from(events)).scalar()
    assert (audited, announced) == (5, 5)


def test_a_unique_value_repeated_in_the_batch_is_refused_after_its_first_use(
    service: RecordService, people: People
) -> None:
    service.create(people.alice, "account", {"name": "Old", "code": "AA0001"})
    batch = service.create_many(
        people.alice,
        "account",
        [
            {"name": "A", "code": "AA0001"},
            {"name": "B", "code": "BB0001"},
            {"name": "C", "code": "BB0001"},
        ],
    )
    assert sorted(batch.created) == [1]
    assert [p.code for p in batch.problems[0]["code"]] == ["unique"]
    assert [p.code for p in batch.problems[2]["code"]] == ["unique"]


def test_all_or_nothing_stores_nothing_when_one_row_is_refused(
    service: RecordService, people: People
) -> None:
    batch = service.create_many(
        people.alice, "account", [{"name": "A"}, {"level": "Z"}], all_or_nothing=True
    )
    assert batch.created == {}
    assert list(batch.problems) == [1]
    assert service.find(people.alice, "account").rows == []


def test_numbers_and_subtable_rows_are_written_in_order(
    service: RecordService, people: People
) -> None:
    account = service.create(people.alice, "account", {"name": "Acme"})
    lines = [{"item": "Bolt", "qty": 2, "price": "1.50"}]
    batch = service.create_many(
        people.alice,
        "order",
        [{"account": account["id"], "lines": lines}, {"account": 999_999}, {"lines": lines}],
    )
    assert [p.code for p in batch.problems[1]["account"]] == ["not_found"]
    first, last = batch.created[0], batch.created[2]
    assert first["number"].endswith("0001")
    assert last["number"].endswith("0002")
    stored = service.get(people.alice, "order", last["id"])
    assert [(row["item"], str(row["total"])) for row in stored["lines"]] == [("Bolt", "3.00")]
