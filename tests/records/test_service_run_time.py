"""Definitions behave when records are saved as ``formflow validate`` describes them.

Conditions of subtable rows apply to each row (reading ``parent``), system fields carry
their values inside expressions, formulas never read a value a condition clears, an
expression that fails is reported on its field, and a composite unique index names its
fields.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from formflow import accounts
from formflow.definitions import load_app
from formflow.errors import ValidationFailed
from formflow.records.access import Actor
from formflow.records.integrity import unique_violation
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.storage.tables import AppSchema
from support import AppWriter

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
  - {key: detail, type: text, label: Detail, visible_if: "kind == 'detailed'"}
  - {key: detail_length, type: formula, label: Detail length, expression: "detail | length if detail else 0"}
  - {key: ratio, type: number, label: Ratio, scale: 2}
  - key: per_unit
    type: formula
    label: Per unit
    expression: "100 / ratio if ratio is not none else 0"
  - {key: review, type: text, label: Review, required_if: "per_unit > 50"}
  - {key: reference, type: formula, label: Reference, result: text, expression: "'J-' ~ id"}
  - {key: made_on, type: formula, label: Made on, result: date, expression: created_at}
  - {key: made_by, type: formula, label: Made by, expression: created_by}
  - {key: saves, type: formula, label: Saves, expression: version}
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
      - {key: job_code, type: text, label: Job code, default_expr: "parent.code"}
      - {key: cost, type: formula, label: Cost, result: money, expression: "(hours or 0) * 10"}
indexes:
  - fields: [code, kind]
    unique: true
permissions:
  staff: {create: all, read: all, update: all, delete: all}
"""

BROKEN_DEFAULT = """\
key: note
label: Note
title_field: title
fields:
  - {key: title, type: text, label: Title}
  - {key: size, type: number, label: Size, default_expr: "1 / 0"}
permissions:
  staff: {create: all, read: all, update: all, delete: all}
"""


@pytest.fixture
def schema(engine: Engine, write_app: AppWriter) -> AppSchema:
    folder: Path = write_app(APP, forms={"job": JOB, "note": BROKEN_DEFAULT})
    schema = AppSchema(load_app(folder))
    schema.metadata.create_all(engine)
    return schema


@pytest.fixture
def service(engine: Engine, schema: AppSchema) -> RecordService:
    return RecordService(engine, schema)


@pytest.fixture
def staff(engine: Engine, schema: AppSchema, password_hash: str) -> Actor:
    with write_transaction(engine) as connection:
        user_id = accounts.create_user(
            connection, "ann", None, password_hash=password_hash, roles={"works": ["staff"]}
        )
        user = accounts.get_user(connection, user_id)
        assert user is not None
        return accounts.actor_for(connection, user, "works")


def problems(caught: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, list[str]]:
    return {key: [p.code for p in found] for key, found in caught.value.problems.items()}


# (a) conditions of subtable rows --------------------------------------------------------


def test_a_row_field_is_required_when_its_row_says_so(service: RecordService, staff: Actor) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(staff, "job", {"code": "A", "steps": [{"name": "dig", "mode": "hourly"}]})
    assert problems(caught) == {"steps.0.hours": ["required"]}


def test_a_hidden_row_field_keeps_no_value(service: RecordService, staff: Actor) -> None:
    record = service.create(
        staff, "job", {"code": "A", "steps": [{"name": "dig", "mode": "fixed", "hours": 5}]}
    )
    assert record["steps"][0]["hours"] is None
    assert service.get(staff, "job", record["id"])["steps"][0]["hours"] is None


def test_a_row_condition_reads_the_record_through_parent(
    service: RecordService, staff: Actor
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(staff, "job", {"code": "A", "kind": "detailed", "steps": [{"name": "x"}]})
    assert problems(caught) == {"steps.0.rate": ["required"]}
    service.create(staff, "job", {"code": "A", "kind": "simple", "steps": [{"name": "x"}]})


def test_a_row_default_reads_the_record_through_parent(
    service: RecordService, staff: Actor
) -> None:
    record = service.create(staff, "job", {"code": "A", "steps": [{"name": "x"}]})
    assert record["steps"][0]["job_code"] == "A"


def test_a_changed_record_updates_its_stored_rows_conditions(
    service: RecordService, staff: Actor
) -> None:
    record = service.create(
        staff, "job", {"code": "A", "steps": [{"name": "x", "mode": "hourly", "hours": 2}]}
    )
    with pytest.raises(ValidationFailed) as caught:
        service.update(staff, "job", record["id"], {"kind": "detailed"}, expected_version=1)
    assert problems(caught) == {"steps.0.rate": ["required"]}


# (b) system fields inside expressions ---------------------------------------------------


def test_a_new_record_s_expressions_read_its_id_once_it_has_one(
    service: RecordService, staff: Actor
) -> None:
    record = service.create(staff, "job", {"code": "A"})
    assert record["reference"] == f"J-{record['id']}"
    assert service.get(staff, "job", record["id"])["reference"] == f"J-{record['id']}"


def test_system_fields_read_as_this_save_stores_them(service: RecordService, staff: Actor) -> None:
    record = service.create(staff, "job", {"code": "A"})
    assert record["made_on"] == record["created_at"].date()
    assert (record["made_by"], record["saves"]) == (staff.user_id, 1)
    updated = service.update(staff, "job", record["id"], {"ratio": 4}, expected_version=1)
    assert (updated["made_on"], updated["made_by"], updated["saves"]) == (
        record["created_at"].date(),
        staff.user_id,
        2,
    )
    assert isinstance(updated["made_on"], date)


# (c) one order: hidden values are cleared before formulas read them ---------------------


def test_a_formula_never_reads_a_value_its_condition_clears(
    service: RecordService, staff: Actor
) -> None:
    record = service.create(staff, "job", {"code": "A", "kind": "simple", "detail": "abcd"})
    assert (record["detail"], record["detail_length"]) == (None, 0)
    shown = service.create(staff, "job", {"code": "B", "kind": "detailed", "detail": "abcd"})
    assert (shown["detail"], shown["detail_length"]) == ("abcd", 4)


def test_a_row_formula_never_reads_a_value_its_condition_clears(
    service: RecordService, staff: Actor
) -> None:
    record = service.create(
        staff, "job", {"code": "A", "steps": [{"name": "x", "mode": "fixed", "hours": 3}]}
    )
    assert record["steps"][0]["cost"] == Decimal("0.00")


# (d) an expression that fails is reported on its field ----------------------------------


def test_a_formula_that_fails_refuses_the_save_naming_the_formula(
    service: RecordService, staff: Actor
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(staff, "job", {"code": "A", "ratio": 0})
    assert problems(caught) == {"per_unit": ["formula_failed"]}
    message = caught.value.problems["per_unit"][0].message
    assert "100 / ratio" in message
    assert "division by zero" in message
    assert service.find(staff, "job").total == 0


def test_a_condition_reading_a_formula_sees_its_value(service: RecordService, staff: Actor) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(staff, "job", {"code": "A", "ratio": 1})
    assert problems(caught) == {"review": ["required"]}


def test_a_formula_reading_a_value_with_a_problem_is_not_reported_too(
    service: RecordService, staff: Actor
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(staff, "job", {"code": "A", "ratio": "lots"})
    assert problems(caught) == {"ratio": ["type"]}


def test_a_default_expression_that_fails_is_reported_on_its_field(
    service: RecordService, staff: Actor
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create(staff, "note", {"title": "x"})
    assert problems(caught) == {"size": ["default_failed"]}


# (e) composite unique indexes -----------------------------------------------------------


def test_a_repeated_combination_is_reported_on_each_of_its_fields(
    service: RecordService, staff: Actor
) -> None:
    service.create(staff, "job", {"code": "A", "kind": "simple"})
    service.create(staff, "job", {"code": "A", "kind": "detailed"})
    with pytest.raises(ValidationFailed) as caught:
        service.create(staff, "job", {"code": "A", "kind": "simple"})
    assert problems(caught) == {"code": ["unique"], "kind": ["unique"]}
    assert "Code, Kind" in caught.value.problems["code"][0].message


def test_an_update_into_a_taken_combination_is_reported(
    service: RecordService, staff: Actor
) -> None:
    service.create(staff, "job", {"code": "A", "kind": "simple"})
    other = service.create(staff, "job", {"code": "A", "kind": "detailed"})
    with pytest.raises(ValidationFailed) as caught:
        service.update(staff, "job", other["id"], {"kind": "simple"}, expected_version=1)
    assert problems(caught) == {"code": ["unique"], "kind": ["unique"]}


def test_the_database_s_refusal_of_a_combination_names_its_fields(
    engine: Engine, schema: AppSchema, service: RecordService, staff: Actor
) -> None:
    first = service.create(staff, "job", {"code": "A", "kind": "simple"})
    table = schema.table("job")
    copy = {key: first[key] for key in ("code", "kind", "created_at", "updated_at", "version")}
    with pytest.raises(IntegrityError) as refused, write_transaction(engine) as connection:
        connection.execute(insert(table).values(copy))
    failed = unique_violation(schema.app.form("job"), table, refused.value)
    assert sorted(failed.problems) == ["code", "kind"]
    assert failed.problems["kind"][0].code == "unique"
