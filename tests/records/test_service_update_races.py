"""An update racing another writer between its checks and its write: refused as its
checks would have refused it."""

from __future__ import annotations

from typing import Any

import pytest
from shop import People
from sqlalchemy import Engine, update

from formflow import hookimpl
from formflow.errors import StaleRecord, ValidationFailed
from formflow.plugins import load_plugins
from formflow.records.service import RecordService
from formflow.storage.tables import AppSchema


class TakesTheCodeMeanwhile:
    """Once armed, gives ``record_id`` the code being saved, committed by another writer,
    while the update of another record is past its checks (its before-hook runs then)."""

    def __init__(self, engine: Engine, schema: AppSchema) -> None:
        self.engine, self.schema = engine, schema
        self.record_id: int | None = None

    @hookimpl
    def formflow_before_update(self, new: Any) -> None:
        if self.record_id is None:
            return
        table = self.schema.table("account")
        with self.engine.begin() as other:
            other.execute(
                update(table).where(table.c.id == self.record_id).values(code=new["code"])
            )
        self.record_id = None


def test_a_unique_value_taken_after_the_checks_is_refused_on_the_field(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: nobody writes between check and write")
    racer = TakesTheCodeMeanwhile(engine, schema)
    service = RecordService(engine, schema, hooks=load_plugins(entry_points=False, extra=[racer]))
    first = service.create(people.alice, "account", {"name": "First"})
    second = service.create(people.alice, "account", {"name": "Second"})
    service.update(people.alice, "account", second["id"], {"level": "A"}, expected_version=1)
    racer.record_id = first["id"]
    with pytest.raises(ValidationFailed) as refused:
        service.update(
            people.alice, "account", second["id"], {"code": "AB0001"}, expected_version=2
        )
    assert [problem.code for problem in refused.value.problems["code"]] == ["unique"]


class MovesTheVersionOn:
    """Once armed, moves ``record_id`` on by several versions, committed by another
    writer, while its update is past its checks."""

    def __init__(self, engine: Engine, schema: AppSchema) -> None:
        self.engine, self.schema = engine, schema
        self.record_id: int | None = None

    @hookimpl
    def formflow_before_update(self, new: Any) -> None:
        if self.record_id is None:
            return
        table = self.schema.table("account")
        with self.engine.begin() as other:
            other.execute(
                update(table)
                .where(table.c.id == self.record_id)
                .values(version=table.c.version + 3)
            )
        self.record_id = None


def test_an_update_that_lost_the_race_names_the_version_the_winner_left(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: nobody writes between check and write")
    racer = MovesTheVersionOn(engine, schema)
    service = RecordService(engine, schema, hooks=load_plugins(entry_points=False, extra=[racer]))
    record = service.create(people.alice, "account", {"name": "First"})
    racer.record_id = record["id"]
    with pytest.raises(StaleRecord) as refused:
        service.update(people.alice, "account", record["id"], {"level": "A"}, expected_version=1)
    assert (refused.value.expected, refused.value.actual) == (1, 4)
