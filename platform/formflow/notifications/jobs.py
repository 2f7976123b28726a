"""The notifications' jobs: each notification sent on the outside channels, with retries,
and a sweep each minute for those whose job was lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from formflow.jobs import Jobs, Schedule
from formflow.notifications.service import ATTEMPTS, Notifications

DELIVER = "formflow.notifications.deliver"
SWEEP = "formflow.notifications.sweep"
RETRY_DELAY_SECONDS = 10
"""The first wait before a failed channel is tried again; each wait doubles."""


def attach(
    jobs: Jobs, notifications: Notifications, *, retry_delay: int = RETRY_DELAY_SECONDS
) -> None:
    """Send notifications as jobs on ``jobs``, retried with back-off; sweep every minute."""

    def deliver(notification_id: int) -> dict[str, str]:
        return notifications.deliver(notification_id)

    task = jobs.huey.task(
        name=DELIVER, retries=ATTEMPTS - 1, retry_delay=retry_delay, retry_backoff=2
    )(deliver)
    notifications.dispatch = task

    def sweep() -> int:
        found = notifications.undelivered(datetime.now(UTC) - timedelta(minutes=1))
        for notification_id in found:
            task(notification_id)
        return len(found)

    jobs.periodic(SWEEP, Schedule("* * * * *", UTC))(sweep)
