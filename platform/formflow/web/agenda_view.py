"""What the workbench's "Today" shows: the user's due records and the approvals waiting.

Due records come from :mod:`formflow.records.agenda` (the forms' ``agenda`` items), the
approvals from the workflow inbox's first page: each row links to its record, so a rep on a
phone sees what to do and opens it in one tap. A few bounded queries per app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext, ngettext

from formflow.errors import N_
from formflow.records import due_records
from formflow.web import context
from formflow.web.display import Displayer
from formflow.web.i18n import text, translate
from formflow.web.targets import record_urls

APPROVALS = 10


@dataclass(frozen=True)
class TodayRow:
    """One line of the Today list: what it is, which record, and when."""

    kind: str
    label: str
    title: str
    href: str
    when: str
    overdue: bool


def today_rows(app_key: str) -> list[TodayRow]:
    """The signed-in user's approvals waiting, then their due records (overdue first)."""
    instance = context.instance()
    app = instance.app(app_key)
    actor = context.actor(app_key)
    service = context.records(app_key)
    shower = Displayer(app, timezone=service.timezone)
    record_url = record_urls(app_key)
    today = service.clock().astimezone(service.timezone).date()
    rows: list[TodayRow] = []
    if app.workflows:
        waiting = instance.workflows(app_key).inbox(actor, "todo", limit=APPROVALS)
        for item in waiting:
            task = item.task
            rows.append(
                TodayRow(
                    kind="approval",
                    label=translate(N_("Approval: %(step)s"), {"step": text(item.node_label)}),
                    title=text(item.workflow_label),
                    href=record_url(item.instance.form_key, item.instance.record_id) + "#approval",
                    when=shower.system("created_at", task.created_at).text,
                    overdue=False,
                )
            )
    for entry in due_records(service, actor):
        form = app.form(entry.form_key)
        title = shower.show(form.field(entry.item.title), entry.title).short().text
        rows.append(
            TodayRow(
                kind=entry.item.key,
                label=text(entry.item.label),
                title=title or f"#{entry.record_id}",
                href=record_url(entry.form_key, entry.record_id),
                when=due_in_words(entry.due, today),
                overdue=entry.overdue,
            )
        )
    return rows


def due_in_words(due: date, today: date) -> str:
    """When a record is due, as a person would say it of the next days (due today, one day
    overdue); further off, the date."""
    days = (due - today).days
    if days == 0:
        return str(gettext("Due today"))
    if days == 1:
        return str(gettext("Due tomorrow"))
    if days < 0:
        return str(ngettext("%(num)d day overdue", "%(num)d days overdue", -days))
    return str(gettext("Due %(date)s", date=due.isoformat()))
