"""A field hidden from a role may not be told to it by a setting that acts on what the
field holds: a link narrowed by it (the picker offers only matching records), a subtable
row's condition or default reading it, a notification rendering it to the role."""

from __future__ import annotations

from formflow.definitions import load_app
from support import AppWriter, definition_errors


def form(fields: str, permissions: str, *, key: str = "item", extra: str = "") -> str:
    """A form file whose ``fields:`` list starts on line 5."""
    return (
        f"key: {key}\n"
        "label: {zh: 条目, en: Item}\n"
        "title_field: name\n"
        "fields:\n"
        "  - {key: name, type: text, label: 名称}\n"
        f"{fields}"
        f"{extra}"
        f"permissions:\n{permissions}"
    )


ITEM = form(
    "  - {key: grade, type: text, label: 等级}\n",
    "  staff: {read: all, fields: {grade: hidden}}\n",
)
NARROWED = "  - {key: item, type: link, label: 条目, form: item, link_filter: {grade: grade}}\n"


def order(fields: str, permissions: str = "  staff: {create: all, read: all}\n") -> str:
    return form("  - {key: grade, type: text, label: 等级}\n" + fields, permissions, key="order")


def test_a_link_may_not_be_narrowed_by_a_field_hidden_from_a_role_that_writes(
    write_app: AppWriter,
) -> None:
    root = write_app(forms={"item": ITEM, "order": order(NARROWED)})
    assert definition_errors(root) == [
        "forms/order.yaml:7:65: 'link_filter' of 'item' compares 'item.grade', which is hidden"
        " from 'staff', who may write these records: the records offered would tell it"
    ]


def test_a_row_link_may_not_be_narrowed_by_a_field_hidden_from_a_role_that_writes(
    write_app: AppWriter,
) -> None:
    lines = (
        "  - key: lines\n    type: subtable\n    label: 行\n    fields:\n"
        "      - {key: item, type: link, label: 条目, form: item,"
        " link_filter: {grade: parent.grade}}\n"
    )
    root = write_app(forms={"item": ITEM, "order": order(lines)})
    assert definition_errors(root) == [
        "forms/order.yaml:11:69: 'link_filter' of 'item' compares 'item.grade', which is hidden"
        " from 'staff', who may write these records: the records offered would tell it"
    ]


def test_a_link_narrowed_by_a_field_hidden_from_readers_only_is_accepted(
    write_app: AppWriter,
) -> None:
    root = write_app(forms={"item": ITEM, "order": order(NARROWED, "  staff: {read: all}\n")})
    assert load_app(root).form("order").field("item").link_filter == (("grade", "grade"),)
