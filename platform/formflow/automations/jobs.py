"""The automations' jobs on the instance's queue: the clock, and webhook calls."""

from __future__ import annotations

from formflow.automations.engine import Automations
from formflow.automations.webhooks import ATTEMPTS, send
from formflow.jobs import Jobs, Schedule

CLOCK = "formflow.automations.clock"
WEBHOOK = "formflow.automations.webhook"
RETRY_DELAY_SECONDS = 10
"""The first wait before a failed webhook call is tried again; each wait doubles."""


def attach(jobs: Jobs, automations: Automations, *, retry_delay: int = RETRY_DELAY_SECONDS) -> None:
    """Run the automations' clock every minute on ``jobs`` (in the instance's time zone),
    and send their webhook calls as jobs retried with back-off."""

    def send_call(call_id: int) -> str:
        return send(automations.engine, call_id, networks=automations.webhook_networks)

    task = jobs.huey.task(
        name=WEBHOOK, retries=ATTEMPTS - 1, retry_delay=retry_delay, retry_backoff=2
    )(send_call)
    automations.send_webhook = task
    every_minute = Schedule("* * * * *", automations.timezone)
    jobs.periodic(CLOCK, every_minute)(automations.tick)
