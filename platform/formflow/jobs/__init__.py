"""Background jobs: the work that runs after a request, on time and at least once.

The queue is huey's: a SQLite file in the instance folder by default, consumed by threads
inside ``formflow serve``, so one command runs everything on one machine; Redis when
``FORMFLOW_REDIS_URL`` is set, consumed by ``formflow worker`` processes too. The queue is
only a doorbell: what is owed lives in the database (the events outbox's deliveries), so a
queue that loses a job, a worker killed mid-job or a Redis that restarts empty loses
nothing; the next sweep rings again. This package knows nothing of the web.
"""

from formflow.jobs.dead_letters import DeadLetter, UnknownDeadLetterError
from formflow.jobs.queue import QueueUnavailable, check_queue, make_huey
from formflow.jobs.runner import Jobs, serve_jobs
from formflow.jobs.schedule import Schedule, ScheduleError

__all__ = [
    "DeadLetter",
    "Jobs",
    "QueueUnavailable",
    "Schedule",
    "ScheduleError",
    "UnknownDeadLetterError",
    "check_queue",
    "make_huey",
    "serve_jobs",
]
