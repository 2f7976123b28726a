"""Field types: each is one module owning its fields' behaviour, and values follow one set
of rules whatever their source (typed, filtered on, or moved by a migration)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from formflow.definitions import load_app
from formflow.definitions.model import Field
from formflow.definitions.toolkit import Toolkit
from formflow.fields import (
    BUILTIN_FIELD_TYPES,
    BUILTIN_REGISTRY,
    FieldType,
    Invalid,
    Purpose,
    ValueKind,
)
from support import MINIMAL_APP_YAML, AppWriter

ENGINE = Path(__file__).parents[2] / "platform" / "formflow"
FORM = """\
key: thing
label: Thing
title_field: name
fields:
  - {key: name, type: text, label: Name}
  - {key: done, type: bool, label: Done}
  - {key: count, type: number, label: Count}
  - {key: price, type: money, label: Price}
permissions: {}
"""


@pytest.fixture(scope="module")
def fields(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Field]:
    folder = tmp_path_factory.mktemp("app")
    (folder / "forms").mkdir()
    (folder / "app.yaml").write_text(MINIMAL_APP_YAML, encoding="utf-8")
    (folder / "forms" / "thing.yaml").write_text(FORM, encoding="utf-8")
    return {f.key: f for f in load_app(folder).form("thing").fields}


def test_every_built_in_type_is_one_module_of_its_own() -> None:
    modules = {type(field_type).__module__ for field_type in BUILTIN_FIELD_TYPES}
    assert len(modules) == len(BUILTIN_FIELD_TYPES)
    assert all(module.startswith("formflow.fields.") for module in modules)


def test_no_module_or_template_outside_fields_compares_a_type_name() -> None:
    # a widget's kind (``widget.type``, ``w.type``, ``preview.type``), a workflow step's
    # (``step.type``) and a WTForms class (``bound.type``) are not field types
    comparison = re.compile(
        r"(?<!widget)(?<![^a-z_]w)(?<!preview)(?<!step)(?<!bound)\.type (==|!=|in|not in) "
        r"|type_name (==|!=|in) "
    )
    offenders = [
        f"{path.relative_to(ENGINE)}:{number}"
        for path in [*ENGINE.rglob("*.py"), *ENGINE.rglob("*.html")]
        if "fields" not in path.relative_to(ENGINE).parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if comparison.search(line)
    ]
    assert offenders == []


@pytest.mark.parametrize("purpose", list(Purpose))
@pytest.mark.parametrize(
    ("written", "meant"), [("yes", True), ("是", True), ("on", True), ("0", False), ("否", False)]
)
def test_yes_and_no_are_read_alike_from_every_source(
    fields: dict[str, Field], purpose: Purpose, written: str, meant: bool
) -> None:
    done = fields["done"]
    assert done.field_type.parse(done, written, purpose) is meant


@pytest.mark.parametrize("purpose", list(Purpose))
def test_numbers_are_read_alike_from_every_source(
    fields: dict[str, Field], purpose: Purpose
) -> None:
    count, price = fields["count"], fields["price"]
    assert count.field_type.parse(count, "1,234", purpose) == 1234
    assert price.field_type.parse(price, " 1,234.5 ", purpose) == Decimal("1234.5")
    with pytest.raises(Invalid):
        count.field_type.parse(count, "1e3", purpose)


def test_input_keeps_to_the_field_s_limits_where_a_filter_need_not(
    fields: dict[str, Field],
) -> None:
    price = fields["price"]
    with pytest.raises(Invalid, match="at most 2 decimal places"):
        price.field_type.parse(price, "1.005", Purpose.INPUT)
    assert price.field_type.parse(price, "1.005", Purpose.FILTER) == Decimal("1.005")


def test_a_stored_value_that_would_lose_something_is_refused(fields: dict[str, Field]) -> None:
    name = fields["name"]
    assert name.field_type.parse(name, True, Purpose.STORED) == "true"
    with pytest.raises(Invalid):
        name.field_type.parse(name, "x" * 256, Purpose.STORED)


def test_a_plugin_type_made_from_a_kind_alone_gets_everything_from_it(
    write_app: AppWriter,
) -> None:
    toolkit = Toolkit(field_types=BUILTIN_REGISTRY.with_types([FieldType("due", ValueKind.DATE)]))
    app_dir = write_app(forms={"thing": FORM.replace("type: bool", "type: due")})
    done = load_app(app_dir, toolkit=toolkit).form("thing").field("done")
    field_type = done.field_type
    assert (field_type.input_widget(done), field_type.display_style(done)) == ("date", "date")
    assert (field_type.filterable, field_type.sortable, field_type.filter_widget(done)) == (
        True,
        True,
        "date",
    )
    assert field_type.json_schema(done, writing=False) == {"type": "string", "format": "date"}


def test_a_value_is_written_to_json_alike_one_by_one_and_for_a_page(
    fields: dict[str, Field],
) -> None:
    price, count = fields["price"], fields["count"]
    for field, value in ((price, Decimal("12.50")), (count, 7), (price, None)):
        writer = field.field_type.json_writer(field)
        assert writer(value) == field.field_type.to_json(field, value)


def test_a_type_that_writes_its_own_json_is_honoured_when_a_page_is_written(
    fields: dict[str, Field],
) -> None:
    class Shouting(type(fields["name"].field_type)):  # type: ignore[misc]
        def to_json(self, field: Field, value: object) -> object:
            return str(value).upper()

    writer = Shouting().json_writer(fields["name"])
    assert (writer("quiet"), writer(None)) == ("QUIET", None)


def test_a_formula_s_scale_is_the_default_its_reference_states(write_app: AppWriter) -> None:
    reference = (ENGINE.parents[1] / "docs" / "definitions.md").read_text(encoding="utf-8")
    formula_section = reference[reference.index("#### formula") : reference.index("#### rollup")]
    stated = re.search(r"scale: \d+ +# .*\(default (\d+)\)", formula_section)
    assert stated is not None, "the formula reference should state its scale's default"
    folder = write_app(
        forms={
            "thing": FORM.replace(
                "permissions:",
                "  - {key: days, type: formula, label: Days, expression: 'count'}\npermissions:",
            )
        }
    )
    days = load_app(folder).form("thing").field("days")
    assert days.scale == int(stated.group(1))
