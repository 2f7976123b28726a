"""The outbox feeds huey: commits ring the queue, jobs deliver, the sweep catches the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from huey import Huey
from queues import drain, wait_until
from sqlalchemy import Engine, update

from formflow.events import Event, Relay
from formflow.jobs import Jobs
from formflow.jobs.dead_letters import (
    UnknownDeadLetterError,
    count_dead_letters,
    list_dead_letters,
    retry_dead_letter,
)
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.records.unit import unit_of_work
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import event_deliveries
from formflow.storage.tables import AppSchema


class Recorder:
    """A subscriber that keeps what it was handed, and fails while told to."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.failing = False

    def __call__(self, event: Event, key: str) -> None:
        if self.failing:
            raise RuntimeError("the mail server is down")
        self.keys.append(key)


def make(
    engine: Engine, schema: AppSchema, huey: Huey, **subscribers: Recorder
) -> tuple[RecordService, Jobs]:
    relay = Relay(engine, subscribers, give_up_after=3)
    return RecordService(engine, schema, relay=relay), Jobs(huey, relay)


def create(service: RecordService, *names: str) -> None:
    with unit_of_work(service.engine):
        for name in names:
            service.create(Actor.system(), "account", {"name": name})


def make_due(engine: Engine) -> None:
    """As when a back-off has run out."""
    with write_transaction(engine) as connection:
        connection.execute(update(event_deliveries).values(available_at=None))


def test_a_commit_enqueues_one_delivery_per_subscriber_and_the_job_delivers(
    engine: Engine, schema: AppSchema, huey: Huey
) -> None:
    first, second = Recorder(), Recorder()
    service, _jobs = make(engine, schema, huey, first=first, second=second)
    create(service, "One", "Two")
    assert first.keys == second.keys == []  # the commit only rang
    assert huey.pending_count() == 2
    assert drain(huey) == 2
    assert len(first.keys) == len(second.keys) == 2
    assert service.relay.owed("first") == service.relay.owed("second") == 0


def test_a_rolled_back_unit_enqueues_nothing(engine: Engine, schema: AppSchema, huey: Huey) -> None:
    service, _jobs = make(engine, schema, huey, watcher=Recorder())

    def create_then_fail() -> None:
        with unit_of_work(engine):
            service.create(Actor.system(), "account", {"name": "One"})
            raise RuntimeError("the import stopped half-way")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert huey.pending_count() == 0


def test_a_job_run_twice_delivers_each_event_once(
    engine: Engine, schema: AppSchema, huey: Huey
) -> None:
    watcher = Recorder()
    service, jobs = make(engine, schema, huey, watcher=watcher)
    create(service, "One", "Two", "Three")
    jobs.deliver("watcher")  # as when a sweep rang too
    assert drain(huey) == 2
    assert len(watcher.keys) == len(set(watcher.keys)) == 3


def test_commits_while_a_job_waits_ring_once_and_it_delivers_them_all(
    engine: Engine, schema: AppSchema, huey: Huey
) -> None:
    watcher = Recorder()
    service, _jobs = make(engine, schema, huey, watcher=watcher)
    for name in ("One", "Two", "Three"):
        create(service, name)
    assert huey.pending_count() == 1
    assert drain(huey) == 1
    assert len(watcher.keys) == 3
    create(service, "Four")  # the job has started: the next commit rings again
    assert drain(huey) == 1
    assert len(watcher.keys) == 4


def test_the_sweep_delivers_what_a_crash_left_without_a_job(
    engine: Engine, schema: AppSchema, huey: Huey
) -> None:
    watcher = Recorder()
    service, jobs = make(engine, schema, huey, watcher=watcher)
    service.relay.dispatch = lambda: None  # the process died between commit and enqueue
    create(service, "One", "Two")
    assert huey.pending_count() == 0
    assert jobs.sweep() == 1
    drain(huey)
    assert len(watcher.keys) == 2
    assert jobs.sweep() == 0


def test_the_sweep_is_a_periodic_job_every_minute(engine: Engine, huey: Huey) -> None:
    Jobs(huey, Relay(engine, {}))
    names = [task.name for task in huey.read_periodic(datetime(2026, 3, 8, 7, 0))]
    assert names == ["formflow.sweep"]


def run_due_retries(engine: Engine, huey: Huey) -> None:
    """Let every back-off run out, and run the retries scheduled for then."""
    make_due(engine)
    for task in huey.read_schedule(datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)):
        task.eta = None
        huey.enqueue(task)
    drain(huey)


def test_a_failing_subscriber_is_retried_with_back_off_then_dead_lettered_then_retried(
    engine: Engine, schema: AppSchema, huey: Huey
) -> None:
    flaky, steady = Recorder(), Recorder()
    flaky.failing = True
    service, _jobs = make(engine, schema, huey, flaky=flaky, steady=steady)
    create(service, "One")
    create(service, "Two")
    drain(huey)
    assert len(steady.keys) == 2
    assert huey.scheduled_count() == 1  # the retry waits for its back-off
    rounds = 0
    while service.relay.owed("flaky") and rounds < 10:
        run_due_retries(engine, huey)
        rounds += 1
    assert rounds == 4  # three attempts each; the second event's first came with the first's last
    with read_transaction(engine) as connection:
        letters = list_dead_letters(connection)
    assert [letter.subscriber for letter in letters] == ["flaky", "flaky"]
    assert [letter.attempts for letter in letters] == [3, 3]
    assert letters[0].error == "RuntimeError: the mail server is down"

    flaky.failing = False
    with write_transaction(engine) as connection:
        for letter in letters:
            retry_dead_letter(connection, letter.id)
        assert count_dead_letters(connection) == 0
    service.relay.committed()  # what the admin page and `formflow jobs retry` do next
    drain(huey)
    assert [key.split(":")[1] for key in flaky.keys] == [key.split(":")[1] for key in steady.keys]


def test_retrying_an_unknown_dead_letter_says_so(engine: Engine, schema: AppSchema) -> None:
    with pytest.raises(UnknownDeadLetterError), write_transaction(engine) as connection:
        retry_dead_letter(connection, 404)


def test_a_consumer_in_server_threads_delivers_commits(
    engine: Engine, schema: AppSchema, huey: Huey
) -> None:
    watcher = Recorder()
    service, jobs = make(engine, schema, huey, watcher=watcher)
    jobs.start(2)
    try:
        for name in ("One", "Two", "Three"):
            create(service, name)
        wait_until(lambda: len(watcher.keys) == 3, "three deliveries")
    finally:
        jobs.stop()
    assert service.relay.owed("watcher") == 0
