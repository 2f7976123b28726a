"""A link's ``fills`` names fields of its own form and of the linked form holding the same
kind of value, and a subtable row's ``link_filter`` may name the record's fields as
``parent.FIELD``; anything else is reported where it is written."""

from __future__ import annotations

import pytest

from formflow.definitions import load_app
from formflow.errors import DefinitionErrors
from support import AppWriter

PERMISSIONS = """\
permissions:
  staff: {create: all, read: all, update: all, delete: none}
"""
GROUP = """\
key: group
label: 组
title_field: name
fields:
  - {key: name, type: text, label: 名称}
  - {key: budget, type: money, label: 预算}
  - {key: lead, type: user, label: 负责人}
"""
TASK = """\
key: task
label: 任务
title_field: name
fields:
  - {key: name, type: text, label: 名称}
  - {key: group, type: link, label: 组, form: group, fills: {%s: %s}}
  - {key: budget, type: money, label: 预算}
  - {key: lead, type: user, label: 负责人}
  - key: parts
    type: subtable
    label: 部分
    fields:
      - {key: lead, type: user, label: 负责人}
      - {key: other, type: link, label: 组, form: group, link_filter: {%s: %s}}
"""


def forms(
    ours: str = "budget", theirs: str = "budget", row: tuple[str, str] = ("lead", "lead")
) -> dict[str, str]:
    return {"group": GROUP + PERMISSIONS, "task": TASK % (ours, theirs, *row) + PERMISSIONS}


def test_fills_are_compiled_onto_the_link_and_the_filled_field(write_app: AppWriter) -> None:
    app = load_app(write_app(forms=forms()))
    task = app.form("task")
    assert task.field("group").fills == (("budget", "budget"),)
    assert task.field("budget").filled_from == ("group", "budget")
    assert task.field("name").filled_from is None


def test_a_row_link_filter_may_name_a_field_of_the_record(write_app: AppWriter) -> None:
    app = load_app(write_app(forms=forms(row=("lead", "parent.lead"))))
    other = app.form("task").field("parts").subfield("other")
    assert other.link_filter == (("lead", "parent.lead"),)


@pytest.mark.parametrize(
    ("ours", "theirs", "said", "line"),
    [
        ("cost", "budget", "unknown field 'cost'", 6),
        ("budget", "cost", "unknown field 'cost'", 6),
        ("budget", "name", "different kinds of values", 6),
        ("group", "budget", "cannot fill itself", 6),
    ],
)
def test_fills_must_pair_fields_that_hold_the_same_kind_of_value(
    write_app: AppWriter, ours: str, theirs: str, said: str, line: int
) -> None:
    with pytest.raises(DefinitionErrors) as refused:
        load_app(write_app(forms=forms(ours, theirs)))
    assert said in str(refused.value)
    assert f"task.yaml:{line}:" in str(refused.value)


@pytest.mark.parametrize(
    ("row", "said"),
    [
        (("lead", "parent.team"), "unknown field 'parent.team'"),
        (("lead", "team"), "unknown field 'team'"),
        (("name", "parent.lead"), "different kinds of values"),
    ],
)
def test_a_row_link_filter_must_name_fields_that_can_be_compared(
    write_app: AppWriter, row: tuple[str, str], said: str
) -> None:
    with pytest.raises(DefinitionErrors) as refused:
        load_app(write_app(forms=forms(row=row)))
    assert said in str(refused.value)
    assert "task.yaml:14:" in str(refused.value)


def test_fills_belong_to_a_forms_own_links_not_a_rows(write_app: AppWriter) -> None:
    task = forms()["task"].replace("link_filter: {lead: lead}}", "fills: {lead: lead}}")
    with pytest.raises(DefinitionErrors) as refused:
        load_app(write_app(forms={"group": GROUP + PERMISSIONS, "task": task}))
    assert "not a subtable row's" in str(refused.value)
    assert "task.yaml:14:" in str(refused.value)
