"""Reading a record's subtable rows back: in their order, each row by its fields' keys."""

from __future__ import annotations

from decimal import Decimal

from shop import People
from sqlalchemy import Engine

from formflow.records.service import RecordService
from formflow.records.subtables import read_subtable_rows
from formflow.storage.database import read_transaction
from formflow.storage.tables import AppSchema


def test_rows_come_back_in_their_order_with_every_field(
    engine: Engine, schema: AppSchema, service: RecordService, people: People
) -> None:
    order = service.create(
        people.alice,
        "order",
        {
            "lines": [
                {"item": "pen", "qty": 2, "price": "10"},
                {"item": "ink", "qty": 1, "price": "3"},
            ]
        },
    )
    with read_transaction(engine) as connection:
        found = read_subtable_rows(connection, schema, schema.app.forms["order"], order["id"])
    assert found == {
        "lines": [
            {
                "item": "pen",
                "qty": 2,
                "price": Decimal("10.00"),
                "total": Decimal("20.00"),
                "partner": None,
            },
            {
                "item": "ink",
                "qty": 1,
                "price": Decimal("3.00"),
                "total": Decimal("3.00"),
                "partner": None,
            },
        ]
    }


def test_only_the_subtables_asked_for_are_read(
    engine: Engine, schema: AppSchema, service: RecordService, people: People
) -> None:
    order = service.create(
        people.alice, "order", {"lines": [{"item": "pen", "qty": 2, "price": "10"}]}
    )
    with read_transaction(engine) as connection:
        found = read_subtable_rows(connection, schema, schema.app.forms["order"], order["id"], ())
    assert found == {}
