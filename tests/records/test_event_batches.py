"""A batch subscriber takes the events due in one call, and one at a time when that fails."""

from __future__ import annotations

from collections.abc import Sequence

from shop import People
from sqlalchemy import Engine, update

from formflow.events import Event, Relay
from formflow.records.service import RecordService
from formflow.records.unit import unit_of_work
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import event_deliveries
from formflow.storage.tables import AppSchema


class BatchRecorder:
    """A batch subscriber that keeps each call it was handed, and can be told to fail on
    the batch, or on the event of the record of one name."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[int, str]]] = []
        self.singles: list[tuple[int, str]] = []
        self.batch_fails = False
        self.fails_on: str | None = None

    def __call__(self, event: Event, key: str) -> None:
        if event.record.get("name") == self.fails_on:
            raise RuntimeError("the mail server is down")
        self.singles.append((event.record_id, key))

    def handle_many(self, deliveries: Sequence[tuple[Event, str]]) -> None:
        if self.batch_fails:
            raise RuntimeError("the batch endpoint is down")
        self.batches.append([(event.record_id, key) for event, key in deliveries])


def create_three(engine: Engine, service: RecordService, people: People) -> list[int]:
    """Three records in one unit: three events owed, delivered in one round."""
    with unit_of_work(engine):
        return [
            service.create(people.alice, "account", {"name": name})["id"]
            for name in ("One", "Two", "Three")
        ]


def test_a_batch_subscriber_gets_a_rounds_events_in_one_call_in_order_with_their_keys(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    watcher = BatchRecorder()
    service = RecordService(engine, schema, relay=Relay(engine, {"watcher": watcher}))
    ids = create_three(engine, service, people)
    (batch,) = watcher.batches
    assert [record_id for record_id, _key in batch] == ids
    assert all(key.startswith("watcher:") for _record_id, key in batch)
    assert watcher.singles == []
    assert service.relay.owed("watcher") == 0


def test_a_failed_batch_is_handed_on_one_at_a_time(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    watcher = BatchRecorder()
    watcher.batch_fails = True
    service = RecordService(engine, schema, relay=Relay(engine, {"watcher": watcher}))
    ids = create_three(engine, service, people)
    assert [record_id for record_id, _key in watcher.singles] == ids
    assert service.relay.owed("watcher") == 0


def test_after_a_failed_batch_only_the_failing_event_and_those_after_it_back_off(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    watcher = BatchRecorder()
    watcher.batch_fails, watcher.fails_on = True, "Two"
    service = RecordService(engine, schema, relay=Relay(engine, {"watcher": watcher}))
    first, second, third = create_three(engine, service, people)
    assert [record_id for record_id, _key in watcher.singles] == [first]
    assert service.relay.owed("watcher") == 2
    watcher.fails_on, watcher.batch_fails = None, False
    with write_transaction(engine) as connection:  # as when the back-off has run out
        connection.execute(update(event_deliveries).values(available_at=None))
    assert service.relay.deliver() == 2
    assert [[record_id for record_id, _key in batch] for batch in watcher.batches] == [
        [second, third]
    ]
