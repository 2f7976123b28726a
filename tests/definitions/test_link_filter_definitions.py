"""A link's ``link_filter`` names a field of the linked form and one of its own, holding the
same kind of value; anything else is reported where it is written."""

from __future__ import annotations

import pytest

from formflow.definitions import load_app
from formflow.errors import DefinitionErrors
from support import AppWriter

PERMISSIONS = """\
permissions:
  staff: {create: all, read: all, update: all, delete: none}
"""
GROUP = (
    "key: group\nlabel: 组\ntitle_field: name\nfields:\n  - {key: name, type: text, label: 名称}\n"
)
ITEM = """\
key: item
label: 条目
title_field: name
fields:
  - {key: name, type: text, label: 名称}
  - {key: group, type: link, label: 组, form: group}
"""
TASK = """\
key: task
label: 任务
title_field: name
fields:
  - {key: name, type: text, label: 名称}
  - {key: group, type: link, label: 组, form: group}
  - {key: item, type: link, label: 条目, form: item, link_filter: {%s: %s}}
"""


def forms(theirs: str, ours: str) -> dict[str, str]:
    return {
        "group": GROUP + PERMISSIONS,
        "item": ITEM + PERMISSIONS,
        "task": TASK % (theirs, ours) + PERMISSIONS,
    }


def test_a_link_filter_is_compiled_into_the_field(write_app: AppWriter) -> None:
    app = load_app(write_app(forms=forms("group", "group")))
    assert app.form("task").field("item").link_filter == (("group", "group"),)


@pytest.mark.parametrize(
    ("theirs", "ours", "said"),
    [
        ("team", "group", "unknown field 'team'"),
        ("group", "team", "unknown field 'team'"),
        ("name", "group", "different kinds of values"),
    ],
)
def test_a_link_filter_must_pair_fields_that_can_be_compared(
    write_app: AppWriter, theirs: str, ours: str, said: str
) -> None:
    with pytest.raises(DefinitionErrors) as refused:
        load_app(write_app(forms=forms(theirs, ours)))
    assert said in str(refused.value)
    assert "task.yaml:7:" in str(refused.value)
