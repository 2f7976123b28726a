"""Plugins' background jobs: named functions a plugin declares, run durably with retries.

A plugin declares :class:`PluginJob` values with the ``formflow_jobs`` hook and asks for
one to run with :func:`formflow.plugin_kit.enqueue`. The request is a row of
``ff_plugin_jobs``, written inside the caller's unit of work when one is open (so the job
exists exactly when the caller's change commits) and handed to the queue after the commit.

Running a job first *claims* its row: one conditional update moves it from queued to
running under a lease, so two workers handed the same job (a sweep's second ring, a
retried queue message) never run it at once, and only the holder of the lease may mark it
done. A worker killed mid-way leaves its lease to run out; the sweep then hands the job on
again, and the job function, which must be idempotent (it records its own progress, as
the SMS plugin's blasts do per recipient), picks up where it stopped. A job that raises is
retried with doubling waits; after its last retry it is *failed*, shown to administrators
with the dead letters, and run again only when one asks (``formflow jobs rerun``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Row, and_, func, insert, or_, select, update

from formflow.errors import FormflowError
from formflow.records.unit import current_unit
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import plugin_jobs

if TYPE_CHECKING:
    from formflow.jobs.runner import Jobs

logger = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
AGAIN = "again"
"""What a run that asked to go again returns inside :meth:`PluginJobs.run` (never stored)."""
RUN = "formflow.plugin_jobs.run"
SWEEP = "formflow.plugin_jobs.sweep"
SWEEP_LIMIT = 1000
LOST_AFTER = timedelta(minutes=1)
"""A queued job still waiting this long after it fell due has lost its queue message."""


class PluginJobError(FormflowError):
    """A job that cannot be enqueued: an unknown name, or a payload that is not JSON."""


class UnknownPluginJobError(FormflowError):
    """No failed plugin job has that id (run again already, or never there)."""


@dataclass(frozen=True)
class PluginJob:
    """A named job function a plugin declares with the ``formflow_jobs`` hook.

    ``run`` is called with a :class:`JobRun`; raising retries the job after
    ``retry_delay`` seconds, doubling each time, ``retries`` times before it fails for good.
    ``lease_seconds`` is how long a run may go without :meth:`JobRun.keep_alive` before the
    job is taken for lost and run again elsewhere.
    """

    name: str
    run: Callable[[JobRun], object]
    retries: int = 5
    retry_delay: float = 10.0
    lease_seconds: int = 300


@dataclass
class JobRun:
    """One run of a plugin job, as its function receives it."""

    id: int
    name: str
    payload: Mapping[str, Any]
    attempt: int
    """1 on the first run; a run after a crash or a failure counts on."""
    instance: Any
    """The :class:`~formflow.lifecycle.instance.Instance` the job runs in."""
    _jobs: PluginJobs = field(repr=False)
    _holder: str = field(repr=False)
    wants_again: bool = field(default=False, init=False)
    """Set by :meth:`again`."""

    def keep_alive(self) -> bool:
        """Extend the lease of a long run; ``False`` when the run has lost it (it ran past
        its lease and another worker took the job over), and should stop."""
        return self._jobs._extend(self.id, self._holder)

    def again(self) -> None:
        """Ask to be run again, behind the jobs waiting now, once this run returns.

        Long work (a blast to 100,000 people) done in slices this way holds a worker
        thread for one slice at a time, so other jobs take their turns in between. A slice
        that made progress starts the job's attempts afresh: retries count failures only.
        """
        self.wants_again = True


@dataclass(frozen=True)
class PluginJobRow:
    """A plugin job as the admin pages and ``formflow jobs failed`` show it."""

    id: int
    name: str
    payload: Mapping[str, Any]
    status: str
    attempts: int
    error: str
    created_at: datetime
    finished_at: datetime | None


class PluginJobs:
    """The plugin jobs of one instance's database."""

    def __init__(self, engine: Engine, definitions: Mapping[str, PluginJob], instance: Any) -> None:
        self.engine = engine
        self.definitions = definitions
        self.instance = instance
        self.dispatch: Callable[[int], object] = self.run
        """Called with a job's id once it may run: at once in this process by default, a
        message on the queue once :func:`attach` takes it over."""
        self.retry_at: Callable[[int, datetime], object] = lambda _id, _at: None
        """Called when a failed run is to be retried at a moment (the sweep catches it
        otherwise)."""

    # enqueueing -------------------------------------------------------------------------

    def enqueue(self, name: str, payload: Mapping[str, Any] | None = None) -> int:
        """Record a run of job ``name`` with ``payload``; its id. Inside the caller's unit
        of work if one is open on this database (the job is dropped if the unit rolls
        back, and handed on after it commits), else in a transaction of its own."""
        if name not in self.definitions:
            known = ", ".join(sorted(self.definitions)) or "none"
            raise PluginJobError(f"no plugin job {name!r} (known: {known})")
        values = dict(payload or {})
        try:
            json.dumps(values)
        except (TypeError, ValueError) as exc:
            raise PluginJobError(f"the payload of job {name!r} is not JSON: {exc}") from None
        unit = current_unit()
        if unit is not None and unit.engine is self.engine:
            job_id = self._insert(unit.connection, name, values)
            unit.after_commit(partial(self.dispatch, job_id), key=("plugin_job", job_id))
            return job_id
        with write_transaction(self.engine) as connection:
            job_id = self._insert(connection, name, values)
        self.dispatch(job_id)
        return job_id

    def _insert(self, connection: Connection, name: str, payload: dict[str, Any]) -> int:
        now = datetime.now(UTC)
        written = connection.execute(
            insert(plugin_jobs).values(
                name=name,
                payload=payload,
                status=QUEUED,
                attempts=0,
                available_at=now,
                created_at=now,
            )
        ).inserted_primary_key
        assert written is not None
        return int(written[0])

    # running ----------------------------------------------------------------------------

    def run(self, job_id: int) -> str:
        """Run the job if it is due and nobody else runs it; its status afterwards.

        A run that asks to go :meth:`~JobRun.again` is queued behind the others; without a
        queue (:attr:`dispatch` is this method) its next slice runs here at once.
        """
        status = self._run_once(job_id)
        while status == AGAIN:
            if self.dispatch != self.run:
                self.dispatch(job_id)
                return QUEUED
            status = self._run_once(job_id)
        return status

    def _run_once(self, job_id: int) -> str:
        holder = uuid.uuid4().hex
        row = self._claim(job_id, holder)
        if row is None:
            return self._status(job_id)
        definition = self.definitions.get(row.name)
        if definition is None:  # the plugin that declared it is no longer installed
            return self._fail(row, holder, f"no plugin declares the job {row.name!r}", final=True)
        run = JobRun(row.id, row.name, dict(row.payload), row.attempts, self.instance, self, holder)
        try:
            definition.run(run)
        except Exception as exc:  # a plugin's job may fail in any way; it is retried
            error = f"{type(exc).__name__}: {exc}"[:2000]
            return self._fail(row, holder, error, final=row.attempts > definition.retries)
        now = datetime.now(UTC)
        ended = (
            {"status": QUEUED, "attempts": 0, "available_at": now}
            if run.wants_again
            else {"status": DONE, "finished_at": now}
        )
        with write_transaction(self.engine) as connection:
            kept = connection.execute(
                update(plugin_jobs)
                .where(plugin_jobs.c.id == job_id, plugin_jobs.c.lease_holder == holder)
                .values(leased_until=None, lease_holder=None, error=None, **ended)
            )
        if run.wants_again and kept.rowcount:
            return AGAIN
        return DONE if kept.rowcount else self._status(job_id)

    def _claim(self, job_id: int, holder: str) -> Row[Any] | None:
        """Take the job if it is queued and due, or running under a lease run out."""
        now = datetime.now(UTC)
        definition = self.definitions.get(self._name(job_id) or "")
        lease = timedelta(seconds=definition.lease_seconds if definition else 60)
        with write_transaction(self.engine) as connection:
            taken = connection.execute(
                update(plugin_jobs)
                .where(plugin_jobs.c.id == job_id, _runnable(now))
                .values(
                    status=RUNNING,
                    attempts=plugin_jobs.c.attempts + 1,
                    leased_until=now + lease,
                    lease_holder=holder,
                )
            )
            if not taken.rowcount:
                return None
            return connection.execute(select(plugin_jobs).where(plugin_jobs.c.id == job_id)).one()

    def _fail(self, row: Row[Any], holder: str, error: str, *, final: bool) -> str:
        now = datetime.now(UTC)
        definition = self.definitions.get(row.name)
        delay = (definition.retry_delay if definition else 0) * 2 ** max(row.attempts - 1, 0)
        again = now + timedelta(seconds=delay)
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(plugin_jobs)
                .where(plugin_jobs.c.id == row.id, plugin_jobs.c.lease_holder == holder)
                .values(
                    status=FAILED if final else QUEUED,
                    error=error,
                    leased_until=None,
                    available_at=now if final else again,
                    finished_at=now if final else None,
                )
            )
        if final:
            logger.error("plugin job %s (%s) given up: %s", row.id, row.name, error)
            return FAILED
        self.retry_at(int(row.id), again)
        return QUEUED

    def _extend(self, job_id: int, holder: str) -> bool:
        definition = self.definitions.get(self._name(job_id) or "")
        lease = timedelta(seconds=definition.lease_seconds if definition else 60)
        with write_transaction(self.engine) as connection:
            kept = connection.execute(
                update(plugin_jobs)
                .where(plugin_jobs.c.id == job_id, plugin_jobs.c.lease_holder == holder)
                .values(leased_until=datetime.now(UTC) + lease)
            )
        return bool(kept.rowcount)

    def _name(self, job_id: int) -> str | None:
        with self.engine.connect() as connection:
            name = connection.execute(
                select(plugin_jobs.c.name).where(plugin_jobs.c.id == job_id)
            ).scalar()
        return None if name is None else str(name)

    def _status(self, job_id: int) -> str:
        with self.engine.connect() as connection:
            status = connection.execute(
                select(plugin_jobs.c.status).where(plugin_jobs.c.id == job_id)
            ).scalar()
        return "" if status is None else str(status)

    def due(self, limit: int = SWEEP_LIMIT) -> list[int]:
        """Jobs the queue has lost: queued and due for a while, or running under a lease
        that ran out (their worker died); oldest first."""
        now = datetime.now(UTC)
        with self.engine.connect() as connection:
            found = connection.execute(
                select(plugin_jobs.c.id)
                .where(
                    or_(
                        and_(
                            plugin_jobs.c.status == QUEUED,
                            plugin_jobs.c.available_at <= now - LOST_AFTER,
                        ),
                        and_(plugin_jobs.c.status == RUNNING, plugin_jobs.c.leased_until < now),
                    )
                )
                .order_by(plugin_jobs.c.id)
                .limit(limit)
            ).scalars()
            return [int(job_id) for job_id in found]

    def sweep(self) -> int:
        """Hand on every job the queue has lost; how many."""
        found = self.due()
        for job_id in found:
            self.dispatch(job_id)
        return len(found)

    # failed jobs ------------------------------------------------------------------------

    def failed(self, connection: Connection, *, limit: int = 200) -> list[PluginJobRow]:
        """The jobs given up after their last retry, newest first."""
        rows = connection.execute(
            select(plugin_jobs)
            .where(plugin_jobs.c.status == FAILED)
            .order_by(plugin_jobs.c.id.desc())
            .limit(limit)
        )
        return [_shown(row) for row in rows]

    def count_failed(self, connection: Connection) -> int:
        return int(
            connection.execute(
                select(func.count()).select_from(plugin_jobs).where(plugin_jobs.c.status == FAILED)
            ).scalar_one()
        )

    def rerun(self, job_id: int) -> None:
        """Queue a failed job again, its attempts counted from nought, and hand it on;
        raises :class:`UnknownPluginJobError` when no failed job has that id."""
        with write_transaction(self.engine) as connection:
            changed = connection.execute(
                update(plugin_jobs)
                .where(plugin_jobs.c.id == job_id, plugin_jobs.c.status == FAILED)
                .values(status=QUEUED, attempts=0, available_at=datetime.now(UTC), finished_at=None)
            )
        if not changed.rowcount:
            raise UnknownPluginJobError(
                f"no failed plugin job {job_id}; `formflow jobs failed` lists them"
            )
        self.dispatch(job_id)


def _runnable(now: datetime) -> Any:
    return or_(
        and_(plugin_jobs.c.status == QUEUED, plugin_jobs.c.available_at <= now),
        and_(plugin_jobs.c.status == RUNNING, plugin_jobs.c.leased_until < now),
    )


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shown(row: Row[Any]) -> PluginJobRow:
    created = _aware(row.created_at)
    assert created is not None
    return PluginJobRow(
        id=int(row.id),
        name=row.name,
        payload=dict(row.payload),
        status=row.status,
        attempts=int(row.attempts),
        error=row.error or "",
        created_at=created,
        finished_at=_aware(row.finished_at),
    )


def attach(jobs: Jobs, plugin_jobs_: PluginJobs) -> None:
    """Run plugin jobs as messages on ``jobs``' queue, retries at their moment, and a
    sweep every minute for the jobs the queue lost."""
    from formflow.jobs.schedule import Schedule

    task = jobs.huey.task(name=RUN, retries=5, retry_delay=1, retry_backoff=2)(plugin_jobs_.run)
    plugin_jobs_.dispatch = task
    plugin_jobs_.retry_at = lambda job_id, at: task.schedule(args=(job_id,), eta=at)
    jobs.periodic(SWEEP, Schedule("* * * * *", UTC))(plugin_jobs_.sweep)
