"""Every built-in field type compiles, with its settings and defaults, into the model."""

from __future__ import annotations

import pytest

from formflow.definitions import load_app
from formflow.definitions.model import Field, Lookup, OnDelete, Rollup
from formflow.fields import BUILTIN_REGISTRY, ValueKind
from support import MINIMAL_APP_YAML, AppWriter

ALL_TYPES_FORM = """\
key: item
label: {zh: 条目, en: Item}
title_field: name
fields:
  - {key: name, type: text, label: 名称, max_length: 80, pattern: "^[^<>]*$", default: "新条目"}
  - {key: notes, type: textarea, label: {zh: 备注, en: Notes}, max_length: 5000}
  - {key: qty, type: number, label: 数量, min: 0, max: 1000, default: 1}
  - {key: weight, type: number, label: 重量, scale: 3}
  - {key: price, type: money, label: 价格, currency: USD, min: 0}
  - {key: discount, type: percent, label: 折扣, max: 100}
  - {key: due, type: date, label: 到期日, min: "2020-01-01", default_expr: today}
  - {key: seen_at, type: datetime, label: 时间, default: "2026-01-31T09:30:00"}
  - {key: active, type: bool, label: 有效, default: true}
  - key: level
    type: select
    label: 级别
    style: radio
    default: A
    options:
      - {value: A, label: {zh: 重点, en: Key}, color: "#e5484d"}
      - {value: B, label: 普通}
  - key: tags
    type: multiselect
    label: 标签
    max_items: 2
    default: [x]
    options: [{value: x, label: X}, {value: y, label: Y}]
  - {key: owner, type: user, label: 负责人, default_expr: user.id}
  - {key: team, type: department, label: 部门}
  - {key: parent, type: link, label: 上级, form: item, on_delete: set_null}
  - key: lines
    type: subtable
    label: 明细
    min_rows: 1
    fields:
      - {key: qty, type: number, label: 数量}
      - {key: price, type: money, label: 单价}
      - {key: total, type: formula, label: 小计, expression: "qty * price", result: money}
  - {key: files, type: attachment, label: 附件, multiple: true, max_size_mb: 5, accept: [".pdf", "image/*"]}
  - {key: mobile, type: phone, label: 手机, region: CN}
  - {key: mail, type: email, label: 邮箱}
  - {key: site, type: url, label: 网站}
  - {key: number, type: auto_number, label: 编号, pattern: "IT-{YYYY}{MM}-{####}"}
  - {key: amount, type: formula, label: 金额, expression: "lines | sum(attribute='total')", result: money}
  - {key: children, type: rollup, label: 下级数, form: item, link: parent, aggregate: count}
  - {key: parent_name, type: lookup, label: 上级名称, link: parent, field: name}
permissions:
  staff: {create: all, read: all}
"""


@pytest.fixture(scope="module")
def fields(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Field]:
    root = tmp_path_factory.mktemp("types")
    (root / "forms").mkdir()
    (root / "app.yaml").write_text(MINIMAL_APP_YAML, encoding="utf-8")
    (root / "forms" / "item.yaml").write_text(ALL_TYPES_FORM, encoding="utf-8")
    form = load_app(root).form("item")
    return {field.key: field for field in form.fields}


def test_the_example_uses_every_built_in_type(fields: dict[str, Field]) -> None:
    assert {field.type for field in fields.values()} == set(BUILTIN_REGISTRY)


def test_rollup(fields: dict[str, Field]) -> None:
    children = fields["children"]
    assert (children.kind, children.readonly, children.rollup) == (
        ValueKind.INTEGER,
        True,
        Rollup(form="item", link="parent", aggregate="count"),
    )


def test_lookup(fields: dict[str, Field]) -> None:
    shown = fields["parent_name"]
    assert (shown.kind, shown.max_length, shown.lookup) == (
        ValueKind.TEXT,
        80,
        Lookup(link="parent", field="name"),
    )


def test_text(fields: dict[str, Field]) -> None:
    name = fields["name"]
    assert (name.kind, name.max_length, name.pattern, name.default) == (
        ValueKind.TEXT,
        80,
        "^[^<>]*$",
        "新条目",
    )
    assert name.label.zh == name.label.en == "名称"


def test_textarea(fields: dict[str, Field]) -> None:
    assert (fields["notes"].kind, fields["notes"].max_length) == (ValueKind.TEXT, 5000)
    assert fields["notes"].label.en == "Notes"


def test_number_without_scale_is_whole(fields: dict[str, Field]) -> None:
    qty = fields["qty"]
    assert (qty.kind, qty.scale, qty.minimum, qty.maximum, qty.default) == (
        ValueKind.INTEGER,
        0,
        0,
        1000,
        1,
    )


def test_number_with_scale_is_decimal(fields: dict[str, Field]) -> None:
    assert (fields["weight"].kind, fields["weight"].scale) == (ValueKind.DECIMAL, 3)


def test_money(fields: dict[str, Field]) -> None:
    price = fields["price"]
    assert (price.kind, price.scale, price.currency) == (ValueKind.DECIMAL, 2, "USD")


def test_percent(fields: dict[str, Field]) -> None:
    assert (fields["discount"].kind, fields["discount"].scale) == (ValueKind.DECIMAL, 2)


def test_date_with_an_expression_default(fields: dict[str, Field]) -> None:
    due = fields["due"]
    assert due.kind is ValueKind.DATE
    assert due.default_expr is not None
    assert due.default_expr.names == {"today"}


def test_datetime(fields: dict[str, Field]) -> None:
    assert (fields["seen_at"].kind, fields["seen_at"].default) == (
        ValueKind.DATETIME,
        "2026-01-31T09:30:00",
    )


def test_bool(fields: dict[str, Field]) -> None:
    assert (fields["active"].kind, fields["active"].default) == (ValueKind.BOOL, True)


def test_select(fields: dict[str, Field]) -> None:
    level = fields["level"]
    assert level.option_values == ("A", "B")
    assert (level.options[0].label.en, level.options[0].color, level.style) == (
        "Key",
        "#e5484d",
        "radio",
    )


def test_multiselect(fields: dict[str, Field]) -> None:
    tags = fields["tags"]
    assert (tags.kind, tags.max_items, tags.default) == (ValueKind.CHOICES, 2, ["x"])


def test_user_and_department_are_references(fields: dict[str, Field]) -> None:
    assert fields["owner"].kind is ValueKind.REFERENCE
    assert fields["team"].kind is ValueKind.REFERENCE


def test_link(fields: dict[str, Field]) -> None:
    parent = fields["parent"]
    assert (parent.target_form, parent.on_delete) == ("item", OnDelete.SET_NULL)


def test_subtable_has_its_own_fields(fields: dict[str, Field]) -> None:
    lines = fields["lines"]
    assert lines.kind is ValueKind.ROWS
    assert [row.key for row in lines.fields] == ["qty", "price", "total"]
    assert lines.subfield("total").expression is not None
    assert lines.min_rows == 1


def test_attachment(fields: dict[str, Field]) -> None:
    files = fields["files"]
    assert (files.kind, files.multiple, files.max_size_mb, files.accept) == (
        ValueKind.FILES,
        True,
        5,
        (".pdf", "image/*"),
    )


def test_phone_email_url(fields: dict[str, Field]) -> None:
    assert fields["mobile"].region == "CN"
    assert fields["mail"].kind is fields["site"].kind is ValueKind.TEXT


def test_auto_number_is_always_readonly(fields: dict[str, Field]) -> None:
    number = fields["number"]
    assert (number.number_pattern, number.readonly) == ("IT-{YYYY}{MM}-{####}", True)


def test_formula_over_subtable_rows(fields: dict[str, Field]) -> None:
    amount = fields["amount"]
    assert (amount.kind, amount.result_type, amount.readonly) == (ValueKind.DECIMAL, "money", True)
    assert amount.expression is not None
    assert amount.expression.evaluate({"lines": [{"total": 2}, {"total": 3}]}) == 5


def test_a_minimal_app_compiles(write_app: AppWriter) -> None:
    app = load_app(write_app())
    assert app.summary() == "demo 1.0: 1 forms, 1 fields, 2 roles, 0 workflows, 0 dashboards"
    assert app.form("item").permission("staff").read == "own"
    assert app.form("item").permission("manager").read == "none"


def test_the_digest_changes_with_the_files(write_app: AppWriter) -> None:
    root = write_app()
    first = load_app(root).digest
    (root / "forms" / "item.yaml").write_text(
        (root / "forms" / "item.yaml").read_text() + "description: 变更\n", encoding="utf-8"
    )
    assert load_app(root).digest != first


def test_the_same_files_give_the_same_digest(write_app: AppWriter) -> None:
    root = write_app(app=MINIMAL_APP_YAML)
    assert load_app(root).digest == load_app(root).digest
