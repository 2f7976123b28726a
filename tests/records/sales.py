"""A sales app for import and export tests: companies, and contacts that link to them,
with a unique code, options, an owner, a field hidden from staff and a subtable of calls.

``Sales`` holds the service and two actors: Alice (staff, who reads her own contacts and
not their salaries) and Mary (a manager, who reads everything).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine

from formflow import accounts
from formflow.definitions import load_app
from formflow.records.access import Actor
from formflow.records.search import ensure_search_index
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.storage.tables import AppSchema

SALES_DIR = Path(__file__).parent / "sales_app"


@dataclass
class Sales:
    service: RecordService
    alice: Actor
    mary: Actor


@pytest.fixture
def sales(engine: Engine, password_hash: str) -> Sales:
    schema = AppSchema(load_app(SALES_DIR))
    schema.metadata.create_all(engine)
    actors = {}
    with write_transaction(engine) as connection:
        for form_key in schema.app.forms:
            ensure_search_index(connection, schema, form_key)
        team = accounts.create_department(connection, "Team")
        for name, role in (("alice", "staff"), ("mary", "manager")):
            user_id = accounts.create_user(
                connection,
                name,
                None,
                password_hash=password_hash,
                display_name=name.title(),
                department_id=team,
                roles={"sales": [role]},
            )
            user = accounts.get_user(connection, user_id)
            assert user is not None
            actors[name] = accounts.actor_for(connection, user, "sales")
    return Sales(RecordService(engine, schema), **actors)


def xlsx_file(path: Path, rows: Sequence[Sequence[Any]]) -> Path:
    """An XLSX file of ``rows`` (the first is the header), written as Excel would."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def csv_file(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def xlsx_rows(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]
