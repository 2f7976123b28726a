"""Plugins around writes: a veto or a failure leaves nothing half-written."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from shop import People
from sqlalchemy import Engine

from formflow import Veto, hookimpl
from formflow.errors import PluginFailed, VetoedByPlugin
from formflow.plugins import load_plugins
from formflow.records.service import RecordService
from formflow.storage.tables import AppSchema


class RefusesBigDiscounts:
    @hookimpl
    def formflow_before_create(self, form: Any, values: Any) -> None:
        if form.key == "order" and (values.get("discount") or 0) > 50:
            raise Veto("discounts over 50% need approval")


class Broken:
    @hookimpl
    def formflow_before_create(self, form: Any, values: Any) -> None:
        if values.get("discount") == 13:
            raise RuntimeError("unlucky")

    @hookimpl
    def formflow_after_create(self, record: Any) -> None:
        raise RuntimeError("after-hooks cannot undo anything")


@pytest.fixture
def guarded(engine: Engine, schema: AppSchema) -> RecordService:
    return RecordService(
        engine,
        schema,
        hooks=load_plugins(entry_points=False, extra=[RefusesBigDiscounts(), Broken()]),
    )


def test_a_veto_names_its_plugin_and_stores_nothing(guarded: RecordService, people: People) -> None:
    with pytest.raises(VetoedByPlugin, match="discounts over 50% need approval") as caught:
        guarded.create(people.alice, "order", {"discount": 60, "note": "big order"})
    assert caught.value.plugin == "RefusesBigDiscounts"
    assert guarded.find(people.alice, "order").rows == []


def test_a_failing_plugin_is_named_and_its_write_rolled_back_number_and_all(
    guarded: RecordService, people: People
) -> None:
    with pytest.raises(PluginFailed, match="plugin 'Broken' failed in formflow_before_create"):
        guarded.create(people.alice, "order", {"discount": 13})
    order = guarded.create(people.alice, "order", {"discount": 1})
    assert order["number"] == f"OR-{date.today():%Y}-0001"
    assert [row["id"] for row in guarded.find(people.alice, "order").rows] == [order["id"]]
