"""Jobs: an instance's huey queue, the tasks on it, and its relay's deliveries moved there.

Committing a unit that owes events enqueues one *deliver* job per subscriber (after the
commit, so the job never runs before the change is visible), unless one is waiting or
running already. A job delivers everything owed to its subscriber through the relay, whose
delivery records make it idempotent: a job run twice, or by two workers at once, hands each
event on once (at least once after a crash, with the event's idempotency key to tell a
repeat). A
subscriber that fails is retried by the relay's back-off, each retry a job scheduled for
when it falls due; after the last, the delivery is a dead letter.

A *sweep*, every minute and when a consumer starts, enqueues deliveries for whatever is
owed and due: the job lost when a process died between its commit and its enqueue, the
one a killed worker had taken off the queue, the queue Redis lost when it restarted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from huey import Huey
from huey.consumer import Consumer

from formflow.config import Settings
from formflow.events import Relay
from formflow.jobs.queue import make_huey
from formflow.jobs.schedule import Schedule

DELIVER = "formflow.deliver"
SWEEP = "formflow.sweep"
RETRIES = 5
"""Retries of a deliver job that failed itself (the database unreachable, say); a failing
subscriber is the relay's to retry, not the queue's."""
BUSY_RETRY_SECONDS = 1
"""When another process holds a subscriber's lease, how long before looking again."""
SERVER_WORKERS = 2
"""Consumer threads in each server process."""
GATHER_SECONDS = 0.01
"""How long a deliver job's round smaller than a batch waits for more events to join the
next one (see :attr:`~formflow.events.Relay.gather`): at most this much later, for far
fewer rounds while writers keep committing."""
MAX_IDLE_POLL = 1.0
"""Seconds at most between looks at an idle SQLite queue (Redis wakes workers at once)."""


class Jobs:
    """Background jobs on ``huey``; takes over ``relay``'s delivery after commits."""

    def __init__(self, huey: Huey, relay: Relay) -> None:
        self.huey = huey
        self.relay = relay
        self.deliver = huey.task(name=DELIVER, retries=RETRIES, retry_delay=1, retry_backoff=2)(
            self._deliver_to
        )
        """The deliver task: ``deliver(name)`` enqueues a delivery to subscriber ``name``."""
        huey.periodic_task(_every_minute, name=SWEEP)(self.sweep)
        relay.dispatch = self.enqueue
        relay.gather = GATHER_SECONDS
        self.running: Consumer | None = None
        """The consumer started in this process by :meth:`start`, if any."""

    @classmethod
    def open(cls, settings: Settings, relay: Relay) -> Jobs:
        """The jobs of the instance ``settings`` describe."""
        return cls(make_huey(settings), relay)

    def enqueue(self) -> None:
        """Ring for every subscriber: a unit that owes them events has committed.

        A subscriber marked as rung already is not rung again: its job is waiting or
        running, and looks for events owed after it clears the mark. A mark left by a job
        lost from the queue is cleared by the next sweep.

        The mark is read before it is set: in a burst it is nearly always there, and on the
        SQLite queue a read costs no write transaction (setting it does, even when it finds
        it there). Reading it after this commit is as safe as failing to set it: the job
        clears it after the read, then looks for events owed, ours among them.
        """
        storage = self.huey.storage
        for name in sorted(self.relay.subscribers):
            if storage.has_data_for_key(_rung(name)):
                continue
            if storage.put_if_empty(_rung(name), b"1"):
                try:
                    self.deliver(name)
                except Exception:
                    storage.delete_data(_rung(name))
                    raise

    def sweep(self) -> int:
        """Enqueue a delivery for each subscriber whose next event is due; returns how many
        were enqueued."""
        due = self.relay.due()
        for name in due:
            self.huey.storage.delete_data(_rung(name))
            self.deliver(name)
        return len(due)

    def periodic(self, name: str, schedule: Schedule) -> Callable[[Callable[..., Any]], Any]:
        """Register a job that runs on ``schedule`` (decorator); its name must be unique."""
        return self.huey.periodic_task(schedule.due, name=name)  # type: ignore[no-any-return]

    def consumer(self, workers: int, *, in_server: bool = False) -> Consumer:
        """A consumer of this queue with ``workers`` threads; one for a server process
        leaves the process's signals to the server."""
        kind = _ServerConsumer if in_server else Consumer
        return kind(self.huey, workers=workers, worker_type="thread", max_delay=MAX_IDLE_POLL)

    def start(self, workers: int) -> None:
        """Consume the queue in ``workers`` background threads of this (server) process."""
        self.running = self.consumer(workers, in_server=True)
        self.running.start()

    def stop(self) -> None:
        """Stop the background consumer, letting the jobs it is running finish."""
        if self.running is not None:
            self.running.stop(graceful=True)
            self.running = None

    def _deliver_to(self, subscriber: str) -> None:
        """The deliver job: deliver, clear the rung mark, and look again for events
        committed meanwhile (their commits saw the mark and did not ring)."""
        storage = self.huey.storage
        if subscriber not in self.relay.subscribers:
            storage.delete_data(_rung(subscriber))
            return  # a job enqueued by a process whose plugins had this subscriber
        while True:
            outcome = self.relay.deliver_to(subscriber, look_again=False)
            if outcome.retry_at is not None:
                self._retry(subscriber, outcome.retry_at)
            storage.delete_data(_rung(subscriber))
            if not self.relay.is_due(subscriber):
                return
            if outcome.busy:  # another process delivers: look again in a while
                if storage.put_if_empty(_rung(subscriber), b"1"):
                    self.deliver.schedule(args=(subscriber,), delay=BUSY_RETRY_SECONDS)
                return

    def _retry(self, subscriber: str, at: datetime) -> None:
        self.deliver.schedule(args=(subscriber,), eta=at)


def serve_jobs(
    settings: Settings, relay: Relay, *, setup: Callable[[Jobs], object] | None = None
) -> Jobs:
    """The jobs of a server process: its commits go to the queue, and it consumes the
    queue in threads too unless ``FORMFLOW_SERVER_JOBS=0`` leaves that to ``formflow
    worker`` processes. ``setup`` adds jobs of its own (the automations' clock) first."""
    jobs = Jobs.open(settings, relay)
    if setup is not None:
        setup(jobs)
    if settings.jobs_in_server:
        jobs.start(SERVER_WORKERS)
    return jobs


class _ServerConsumer(Consumer):  # type: ignore[misc]
    """A consumer running beside gunicorn's worker, whose signal handlers stay its own."""

    def _set_signal_handlers(self) -> None:
        return None


def _rung(subscriber: str) -> str:
    """The queue's mark that a delivery job for ``subscriber`` is waiting or running."""
    return f"formflow.rung:{subscriber}"


def _every_minute(_moment: datetime) -> bool:
    return True
