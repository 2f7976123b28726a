"""A small app with a dashboard whose bar charts measure a count, a sum of whole numbers and
a sum of decimals: for the tests of how their value axes step."""

from __future__ import annotations

import textwrap
from pathlib import Path

from formflow.config import Settings, load_settings
from formflow.lifecycle.install import initialise

PASSWORD = "password-1"
BOARD = "/dashboards/desk/work"

APP = """\
key: desk
version: "1.0"
label: Desk
roles:
  - {key: staff, label: Staff}
include:
  forms: [forms/*.yaml]
  dashboards: [dashboards/*.yaml]
"""

TICKET = """\
key: ticket
label: Ticket
title_field: subject
fields:
  - {key: subject, type: text, label: Subject}
  - key: status
    type: select
    label: Status
    options: [{value: open, label: Open}, {value: done, label: Done}]
  - {key: visits, type: number, label: Visits}
  - {key: cost, type: number, label: Cost, scale: 2}
permissions:
  staff: {create: all, read: all, update: all, delete: all}
"""

WORK = """\
key: work
label: Work
widgets:
  - {key: tickets, type: bar, label: Tickets, form: ticket, group_by: status, measure: {op: count}}
  - key: visits
    type: bar
    label: Visits
    form: ticket
    group_by: status
    measure: {op: sum, field: visits}
  - key: cost
    type: bar
    label: Cost
    form: ticket
    group_by: status
    measure: {op: sum, field: cost}
"""


def board_settings(folder: Path, database_url: str) -> Settings:
    """An initialised instance in ``folder`` with the desk app, on ``database_url``."""
    app_dir = folder / "desk"
    (app_dir / "forms").mkdir(parents=True)
    (app_dir / "dashboards").mkdir()
    (app_dir / "app.yaml").write_text(textwrap.dedent(APP), encoding="utf-8")
    (app_dir / "forms" / "ticket.yaml").write_text(textwrap.dedent(TICKET), encoding="utf-8")
    (app_dir / "dashboards" / "work.yaml").write_text(textwrap.dedent(WORK), encoding="utf-8")
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(folder / "instance"), "FORMFLOW_DATABASE_URL": database_url},
        secure_cookies=False,
    )
    initialise(settings, [app_dir], "admin", PASSWORD)
    return settings
