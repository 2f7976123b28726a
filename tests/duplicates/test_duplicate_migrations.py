"""A migration that changes what the duplicate checks compare rebuilds the stored keys, so
records already there are compared under the new checks without `formflow duplicates
rebuild`; a change that alters no key (a label) leaves them alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from formflow.definitions import load_app
from formflow.errors import ValidationFailed
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction
from formflow.storage.migrations import migrate
from formflow.storage.platform_tables import duplicate_keys
from formflow.storage.tables import AppSchema
from support import MINIMAL_APP_YAML, MINIMAL_FORM_YAML, AppWriter

CHECK = """\
duplicate_checks:
  - key: same_name
    label: {zh: 同名, en: same name}
    fields: [item.name]
    normalise: company_name
    effect: block
"""


def app_with(write_app: AppWriter, checks: str = "") -> Path:
    return write_app(app=MINIMAL_APP_YAML + checks, forms={"item": MINIMAL_FORM_YAML})


def service_of(engine: Engine, app_dir: Path) -> RecordService:
    return RecordService(engine, AppSchema(load_app(app_dir)))


def steps(engine: Engine, app_dir: Path) -> list[str]:
    return [step.describe() for step in migrate(engine, app_dir, dry_run=True).plan.operations]


def stored_keys(engine: Engine) -> list[tuple[str, str]]:
    with read_transaction(engine) as connection:
        rows = connection.execute(select(duplicate_keys.c.check_key, duplicate_keys.c.value))
        return sorted((row.check_key, row.value) for row in rows)


def test_adding_a_check_keys_the_records_already_there(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate(engine, app_with(write_app), dry_run=False)
    service_of(engine, app_with(write_app)).create(
        Actor.system(), "item", {"name": "华为技术有限公司"}
    )
    checked = app_with(write_app, CHECK)

    assert "rebuild the duplicate keys (checks: same_name) from 1 record" in steps(engine, checked)
    migrate(engine, checked, dry_run=False)

    assert stored_keys(engine) == [("same_name", "华为技术")]
    with pytest.raises(ValidationFailed, match="already exists"):
        service_of(engine, checked).create(Actor.system(), "item", {"name": "华为技术"})


def test_a_new_label_rebuilds_nothing(engine: Engine, write_app: AppWriter) -> None:
    migrate(engine, app_with(write_app, CHECK), dry_run=False)
    service_of(engine, app_with(write_app, CHECK)).create(Actor.system(), "item", {"name": "甲"})
    relabelled = app_with(write_app, CHECK.replace("same name", "alike names"))

    assert not any("duplicate keys" in step for step in steps(engine, relabelled))


def test_dropping_the_checks_drops_their_keys(engine: Engine, write_app: AppWriter) -> None:
    migrate(engine, app_with(write_app, CHECK), dry_run=False)
    service_of(engine, app_with(write_app, CHECK)).create(Actor.system(), "item", {"name": "甲"})

    migrate(engine, app_with(write_app), dry_run=False)

    assert stored_keys(engine) == []
