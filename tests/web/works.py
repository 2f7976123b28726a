"""A small served app whose definitions lean on run-time rules: row conditions that read
``parent``, a formula that can fail, and a composite unique index.

Served on SQLite and on PostgreSQL in turn (the ``database_url`` fixture), signed in as
the instance's administrator.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from formflow.config import Settings, load_settings
from formflow.lifecycle.install import initialise

PASSWORD = "password-1"

APP = """\
key: works
version: "1.0"
label: Works
roles:
  - {key: staff, label: Staff}
include:
  forms: [forms/*.yaml]
"""

JOB = """\
key: job
label: Job
title_field: code
fields:
  - {key: code, type: text, label: Code, required: true}
  - key: kind
    type: select
    label: Kind
    default: simple
    options: [{value: simple, label: Simple}, {value: detailed, label: Detailed}]
  - {key: ratio, type: number, label: Ratio, scale: 2}
  - key: per_unit
    type: formula
    label: Per unit
    expression: "100 / ratio if ratio is not none else 0"
  - key: steps
    type: subtable
    label: Steps
    fields:
      - {key: name, type: text, label: Name, required: true}
      - key: mode
        type: select
        label: Mode
        options: [{value: fixed, label: Fixed}, {value: hourly, label: Hourly}]
      - {key: hours, type: number, label: Hours, visible_if: "mode == 'hourly'", required_if: "mode == 'hourly'"}
      - {key: rate, type: money, label: Rate, required_if: "parent.kind == 'detailed'"}
indexes:
  - fields: [code, kind]
    unique: true
permissions:
  staff: {create: all, read: all, update: all, delete: all}
"""


def works_settings(folder: Path, database_url: str) -> Settings:
    """An initialised instance in ``folder`` with the works app, on ``database_url``."""
    app_dir = folder / "works"
    (app_dir / "forms").mkdir(parents=True)
    (app_dir / "app.yaml").write_text(textwrap.dedent(APP), encoding="utf-8")
    (app_dir / "forms" / "job.yaml").write_text(textwrap.dedent(JOB), encoding="utf-8")
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(folder / "instance"), "FORMFLOW_DATABASE_URL": database_url},
        secure_cookies=False,
    )
    initialise(settings, [app_dir], "admin", PASSWORD)
    return settings
