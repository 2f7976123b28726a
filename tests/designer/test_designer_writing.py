"""What the designer writes reads back as it was meant, whatever an admin types.

A label such as ``a :# b``, ``x: y``, ``#tag``, ``- item`` or ``!x`` is text to the admin and
must be text to every YAML reader after saving: the compiler's (libyaml, YAML 1.1) and the
designer's own (ruamel, YAML 1.2). And emptying a list whose items carry comments writes a
file that still parses, so the compiler can say what is missing instead of failing to read.
"""

from __future__ import annotations

import pytest
from designer_support import FORM_WITH_COMMENTS
from hypothesis import given, settings
from hypothesis import strategies as st

from formflow.definitions import load_app
from formflow.definitions.source import parse_document
from formflow.designer.documents import Document
from formflow.designer.operations import RemoveField, SetLabel
from formflow.errors import DefinitionErrors
from support import MINIMAL_APP_YAML

FORM = "forms/item.yaml"
BLOCK_LABEL = (
    "key: item\nlabel: Item\nfields:\n  - key: name\n    type: text\n    label:\n      zh: 名称\n"
)
HOSTILE = [
    "a :# b",
    "x: y",
    "#tag",
    "- item",
    "!x",
    "? x",
    "a #b",
    "yes",
    "on",
    "2026-12-04",
    "...",
    "---",
    "~",
    "=",
    "\x85",
    "1_000",
    "0x1F",
    " lead",
    "trail ",
    "[x]",
    "*a",
]


def read_back(text: str) -> dict[str, object]:
    data = parse_document(text.encode("utf-8"), FORM).data
    assert isinstance(data, dict)
    assert Document(FORM, text).data == data  # the designer's reader agrees
    return data


@pytest.mark.parametrize("label", HOSTILE)
def test_a_hostile_label_is_written_so_it_reads_back_the_same(label: str) -> None:
    document = Document(FORM, FORM_WITH_COMMENTS)
    SetLabel("qty", "en", label).apply(document)
    fields = read_back(document.text())["fields"]
    assert fields[1]["label"]["en"] == label  # type: ignore[index]


@settings(max_examples=300, deadline=None)
@given(label=st.text(min_size=1, max_size=12))
def test_any_text_as_a_flow_or_block_label_reads_back_the_same(label: str) -> None:
    flow = Document(FORM, FORM_WITH_COMMENTS)
    SetLabel("qty", "en", label).apply(flow)
    assert read_back(flow.text())["fields"][1]["label"]["en"] == label  # type: ignore[index]
    block = Document(FORM, BLOCK_LABEL)
    block.set(("fields", "name", "label", "zh"), label)
    block.set(("label",), label)
    data = read_back(block.text())
    assert data["label"] == label
    assert data["fields"][0]["label"]["zh"] == label  # type: ignore[index]


FORM_WITH_LIST_COMMENTS = """\
key: item
label: {zh: 条目, en: Item}
fields:   # everything we ask
  # the name first
  - key: name
    type: text
    label: 名称
  # then how many
  - key: qty
    type: number
    label: 数量   # a count
# who may do what
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""
APP = MINIMAL_APP_YAML


def test_emptying_a_commented_list_writes_yaml_that_reads_and_keeps_the_keys_comment() -> None:
    document = Document(FORM, FORM_WITH_LIST_COMMENTS)
    RemoveField("name").apply(document)
    RemoveField("qty").apply(document)
    text = document.text()
    assert read_back(text)["fields"] == []
    assert "fields: []  # everything we ask\n" in text
    assert "permissions:\n  staff:" in text


def test_an_emptied_form_is_refused_by_the_compiler_with_its_place() -> None:
    document = Document(FORM, FORM_WITH_LIST_COMMENTS)
    RemoveField("name").apply(document)
    RemoveField("qty").apply(document)
    with pytest.raises(DefinitionErrors) as refused:
        load_app({"app.yaml": APP, FORM: document.text()})
    assert all(error.file == FORM for error in refused.value.errors)
    assert not any("invalid YAML" in error.message for error in refused.value.errors)
