"""The relay hands every committed event to each subscriber, in order, at least once."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from shop import SHOP_DIR, People
from sqlalchemy import Engine, update

from formflow import hookimpl
from formflow.events import Event, Relay
from formflow.plugins import load_plugins
from formflow.records.service import RecordService
from formflow.records.unit import unit_of_work
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import event_deliveries, event_subscribers
from formflow.storage.tables import AppSchema
from records import workers


class Recorder:
    """A subscriber that keeps what it was handed, and can be told to fail."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.events: list[Event] = []
        self.failing = False

    def __call__(self, event: Event, key: str) -> None:
        if self.failing:
            raise RuntimeError("the mail server is down")
        self.keys.append(key)
        self.events.append(event)


def serviced(engine: Engine, schema: AppSchema, **subscribers: Recorder) -> RecordService:
    return RecordService(engine, schema, relay=Relay(engine, subscribers))


def test_events_reach_every_subscriber_in_commit_order_after_the_commit(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    first, second = Recorder(), Recorder()
    service = serviced(engine, schema, first=first, second=second)
    with unit_of_work(engine):
        one = service.create(people.alice, "account", {"name": "One"})
        two = service.create(people.alice, "account", {"name": "Two"})
        assert first.events == []  # nothing is handed on before the commit
    assert [event.record_id for event in first.events] == [one["id"], two["id"]]
    assert [event.record_id for event in second.events] == [one["id"], two["id"]]
    assert service.relay.owed("first") == service.relay.owed("second") == 0


def test_a_rolled_back_unit_hands_nothing_on(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    watcher = Recorder()
    service = serviced(engine, schema, watcher=watcher)

    def create_then_fail() -> None:
        with unit_of_work(engine):
            service.create(people.alice, "account", {"name": "One"})
            raise RuntimeError("the import stopped half-way")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert watcher.events == []
    assert service.relay.owed("watcher") == 0


def test_the_idempotency_key_names_the_event_and_the_subscriber(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    watcher = Recorder()
    service = serviced(engine, schema, watcher=watcher)
    service.create(people.alice, "account", {"name": "One"})
    (event,) = watcher.events
    assert watcher.keys == [f"watcher:{event.id}"]


def test_a_failing_subscriber_keeps_its_event_and_gets_it_again_in_order(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    flaky, steady = Recorder(), Recorder()
    flaky.failing = True
    service = serviced(engine, schema, flaky=flaky, steady=steady)
    one = service.create(people.alice, "account", {"name": "One"})
    two = service.create(people.alice, "account", {"name": "Two"})
    assert [event.record_id for event in steady.events] == [one["id"], two["id"]]
    assert service.relay.owed("flaky") == 2
    flaky.failing = False
    assert service.relay.deliver() == 0  # backing off: the retry is not due yet
    with write_transaction(engine) as connection:  # as when the back-off has run out
        connection.execute(update(event_deliveries).values(available_at=None))
    assert service.relay.deliver() == 2
    assert [event.record_id for event in flaky.events] == [one["id"], two["id"]]


def test_a_subscriber_leased_by_another_process_is_left_to_it(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    watcher = Recorder()
    service = serviced(engine, schema, watcher=watcher)
    other = Relay(engine, {"watcher": Recorder()})
    assert other._lease("watcher")
    service.create(people.alice, "account", {"name": "One"})
    assert watcher.events == []
    other._release("watcher")
    assert service.relay.deliver() == 1


def test_a_lease_whose_holder_died_runs_out(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    watcher = Recorder()
    service = serviced(engine, schema, watcher=watcher)
    dead = Relay(engine, {"watcher": Recorder()})
    assert dead._lease("watcher")
    service.create(people.alice, "account", {"name": "One"})
    with write_transaction(engine) as connection:
        connection.execute(
            update(event_subscribers)
            .values(leased_until=None)
            .where(event_subscribers.c.name == "watcher")
        )
    assert service.relay.deliver() == 1


def test_events_committed_before_the_process_died_are_delivered_after_restart_once(
    database_url: str, engine: Engine, schema: AppSchema, tmp_path: Path
) -> None:
    received_before_death = tmp_path / "received.txt"
    context = multiprocessing.get_context("spawn")
    child = context.Process(
        target=workers.write_then_die,
        args=(database_url, str(SHOP_DIR), str(received_before_death)),
    )
    child.start()
    child.join(timeout=120)
    assert child.exitcode == -9  # killed after the commit, before any delivery
    assert not received_before_death.exists()

    recorder = Recorder()
    restarted = Relay(engine, {"a.dies": Recorder(), "b.records": recorder})
    restarted.deliver()
    assert [event.record["name"] for event in recorder.events] == ["One", "Two", "Three"]
    restarted.deliver()
    assert len(set(recorder.keys)) == len(recorder.keys) == 3
    assert restarted.owed("a.dies") == 3  # its lease, held by the dead process, runs out first


class AfterHooks:
    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    @hookimpl
    def formflow_after_create(self, record: dict[str, object]) -> None:
        self.seen.append(("create", record["name"]))

    @hookimpl
    def formflow_after_update(self, changes: dict[str, object]) -> None:
        self.seen.append(("update", dict(changes)))

    @hookimpl
    def formflow_after_delete(self, record: dict[str, object]) -> None:
        self.seen.append(("delete", record["name"]))


def test_plugins_after_hooks_are_a_subscriber(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    plugin = AfterHooks()
    service = RecordService(engine, schema, hooks=load_plugins(entry_points=False, extra=[plugin]))
    with unit_of_work(engine):
        account = service.create(people.alice, "account", {"name": "Acme"})
        service.update(
            people.alice, "account", account["id"], {"name": "Acme Ltd"}, expected_version=1
        )
        assert plugin.seen == []
    service.delete(people.alice, "account", account["id"])
    assert plugin.seen == [
        ("create", "Acme"),
        ("update", {"name": ("Acme", "Acme Ltd")}),
        ("delete", "Acme Ltd"),
    ]


def test_without_after_hooks_a_write_owes_no_deliveries(
    service: RecordService, people: People
) -> None:
    service.create(people.alice, "account", {"name": "Acme"})
    assert service.outbox.subscribers == ()


def test_a_relay_that_lost_its_lease_mid_delivery_stops_and_leaves_the_rest(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    taken_over = Recorder()

    def take_over(event: Event, key: str) -> None:
        taken_over(event, key)
        with write_transaction(engine) as connection:  # as when its lease ran out meanwhile
            connection.execute(
                update(event_subscribers).values(
                    lease_holder="another process",
                    leased_until=datetime.now(UTC) + timedelta(hours=1),
                )
            )

    relay = Relay(engine, {"watcher": take_over}, batch=1, lease=timedelta(0))
    relay.dispatch = lambda: None
    service = RecordService(engine, schema, relay=relay)
    with unit_of_work(engine):
        service.create(people.alice, "account", {"name": "One"})
        service.create(people.alice, "account", {"name": "Two"})
    outcome = relay.deliver_to("watcher")
    assert (outcome.delivered, outcome.busy) == (1, True)
    assert len(taken_over.events) == 1
    assert relay.owed("watcher") == 1
