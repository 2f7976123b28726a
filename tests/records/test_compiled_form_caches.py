"""What a save and an answer work out once per compiled form follows the definition in
force: a form compiled again (a migration) is never served what its predecessor had."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from formflow.definitions.loader import load_app
from formflow.definitions.model import Form
from formflow.records.compute import Context
from formflow.records.submission import Preparer
from formflow.records.values import ValueConverter
from formflow.web.serialize import record_json
from support import AppWriter

LINE = """\
key: line
label: {zh: 行, en: Line}
title_field: title
fields:
  - {key: title, type: text, label: 名称}
  - {key: qty, type: number, label: 数量}
  - {key: total, type: formula, label: 合计, result: number, expression: "qty * %s"}
%s
permissions: {}
"""


def compiled(write_app: AppWriter, factor: int, extra: str = "") -> Form:
    root: Path = write_app(forms={"line": LINE % (factor, extra)})
    return load_app(root).form("line")


def total(form: Form) -> object:
    prepared = Preparer(ValueConverter()).prepare(
        form, {"title": "a", "qty": 2}, Context({"id": 1, "roles": []})
    )
    return prepared.values["total"]


def test_a_formula_changed_by_a_new_definition_is_worked_out_as_it_now_reads(
    write_app: AppWriter,
) -> None:
    before = compiled(write_app, 2)
    assert total(before) == Decimal(4)

    assert total(compiled(write_app, 3)) == Decimal(6)


def test_an_answer_holds_a_field_a_new_definition_adds(write_app: AppWriter) -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    record = {"id": 1, "title": "a", "qty": 2, "total": 4, "version": 1, "created_at": now}
    assert "note" not in record_json(compiled(write_app, 2), record)

    added = compiled(write_app, 2, "  - {key: note, type: text, label: 备注}")

    assert record_json(added, {**record, "note": "x"})["note"] == "x"
