"""Updating many records at once: each change checked as a single update, the good ones
written together with their history, audit entries and events, the refused ones reported
by position."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shop import People
from sqlalchemy import event, select

from formflow import audit
from formflow.errors import RecordNotFound, StaleRecord, ValidationFailed
from formflow.records import audit as record_audit
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.records.updating import Change
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import events

SYSTEM_FIELDS = {"id", "created_at", "updated_at"}


def _accounts(service: RecordService, actor: Actor, count: int, prefix: str) -> list[int]:
    made = [
        service.create(actor, "account", {"name": f"{prefix}{n}", "score": n}) for n in range(count)
    ]
    return [int(record["id"]) for record in made]


def _changes(ids: list[int], values: dict[str, Any]) -> list[Change]:
    return [Change(record_id, values, expected_version=1) for record_id in ids]


def _kept(service: RecordService, ids: list[int]) -> list[tuple[Any, ...]]:
    """What each record holds, its history and its update events, without ids and clocks."""
    found = []
    with read_transaction(service.engine) as connection:
        for record_id in ids:
            record = service.stored("account", record_id) or {}
            table = service.schema.table("account").name
            history = audit_history(connection, table, record_id)
            updates = connection.execute(
                select(events.c.data).where(
                    events.c.record_id == record_id, events.c.kind == "updated"
                )
            ).scalars()
            found.append(
                (
                    {k: v for k, v in record.items() if k not in SYSTEM_FIELDS and k != "name"},
                    history,
                    [data["changes"] for data in updates],
                )
            )
    return found


def audit_history(connection: Any, table: str, record_id: int) -> list[tuple[str, Any]]:
    return [
        (entry.action, dict(entry.changes))
        for entry in record_audit.history(connection, table, record_id)
        if entry.action == "update"  # the creates differ in their names
    ]


def test_a_batch_writes_what_single_updates_write(service: RecordService, people: People) -> None:
    batched = _accounts(service, people.alice, 3, "B")
    single = _accounts(service, people.alice, 3, "S")
    values = {"level": "A", "active": False}
    result = service.update_many(people.alice, "account", _changes(batched, values))
    for record_id in single:
        service.update(people.alice, "account", record_id, values, expected_version=1)
    assert sorted(result.updated) == [0, 1, 2]
    assert result.refused == {}
    assert [r["version"] for r in result.updated.values()] == [2, 2, 2]
    assert _kept(service, batched) == _kept(service, single)
    with read_transaction(service.engine) as connection:
        assert audit.verify(connection).intact


def test_a_refused_change_is_reported_by_position_and_the_others_are_written(
    service: RecordService, people: People
) -> None:
    good, stale, bad, gone = _accounts(service, people.alice, 4, "A")
    bobs = _accounts(service, people.bob, 1, "B")[0]  # alice updates her own only
    result = service.update_many(
        people.alice,
        "account",
        [
            Change(good, {"level": "A"}, expected_version=1),
            Change(stale, {"level": "A"}, expected_version=7),
            Change(bad, {"score": "lots"}, expected_version=1),
            Change(gone + 1000, {"level": "A"}, expected_version=1),
            Change(bobs, {"level": "A"}, expected_version=1),
        ],
    )
    assert sorted(result.updated) == [0]
    assert isinstance(result.refused[1], StaleRecord)
    assert isinstance(result.refused[2], ValidationFailed)
    assert isinstance(result.refused[3], RecordNotFound)
    assert 4 in result.refused
    assert service.stored("account", good)["level"] == "A"  # type: ignore[index]
    for record_id in (stale, bad, bobs):
        assert service.stored("account", record_id)["version"] == 1  # type: ignore[index]


def test_a_unique_value_two_changes_take_is_refused_for_the_second(
    service: RecordService, people: People
) -> None:
    first, second, third = _accounts(service, people.alice, 3, "U")
    result = service.update_many(
        people.alice,
        "account",
        [
            Change(first, {"code": "AB0001"}, expected_version=1),
            Change(second, {"code": "AB0001"}, expected_version=1),
            Change(third, {"code": "AB0003"}, expected_version=1),
        ],
    )
    assert sorted(result.updated) == [0, 2]
    refused = result.refused[1]
    assert isinstance(refused, ValidationFailed)
    assert [p.code for p in refused.problems["code"]] == ["unique"]
    assert service.stored("account", second)["code"] is None  # type: ignore[index]


@contextmanager
def _counted(service: RecordService) -> Iterator[list[str]]:
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        sent.append(statement)

    event.listen(service.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(service.engine, "before_cursor_execute", note)


def test_the_statements_of_a_batch_do_not_grow_with_its_records(
    service: RecordService, people: People
) -> None:
    few = _accounts(service, people.alice, 2, "F")
    many = _accounts(service, people.alice, 12, "M")
    with _counted(service) as for_few:
        service.update_many(people.alice, "account", _changes(few, {"level": "B"}))
    with _counted(service) as for_many:
        result = service.update_many(people.alice, "account", _changes(many, {"level": "B"}))
    assert len(result.updated) == 12
    assert len(for_many) == len(for_few)
