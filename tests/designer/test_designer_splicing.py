"""An edit writes only the items it changed, and the text is the one a whole dump gives.

Each edit here starts, as the service's do, from the text the previous edit kept (so the
parsed document and its layout come from the cache), and its text is compared byte for
byte with the whole document written afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

import yaml
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from formflow.designer.documents import Document
from formflow.designer.flow_edits import AddStep, Link, RemoveStep, SetDecisionMode
from formflow.designer.operations import (
    AddField,
    ConfigureField,
    HideField,
    MoveField,
    Operation,
    RemoveField,
    SetLabel,
    SetValue,
)

FORM = """\
# The things we keep track of.
key: item
label: {zh: 条目, en: Item}
title_field: name
fields:
  # the first field
  - key: name   # shown in lists
    type: text
    label: {zh: 名称, en: Name}
    required: true
  - key: qty
    type: number
    label: {zh: 数量, en: Quantity}

  # a comment between fields
  - key: kind
    type: select
    label: {zh: 类型, en: Kind}
    options:
      - {key: a, label: {zh: 甲, en: A}}
      - {key: b, label: {zh: 乙, en: B}}
  - key: note
    type: textarea
    label: {zh: 备注, en: Note}
    # after the last field
permissions:
  staff: {create: all, read: own, update: own, delete: none}  # staff only
"""

labels = count()


def edited(text: str, operation: Operation | Any, path: str = "forms/item.yaml") -> str:
    """Apply ``operation`` as the service does; assert the text equals the whole dump."""
    document = Document(path, text)
    operation.apply(document)
    whole = document.dumped()
    kept = document.keep()
    assert kept == whole
    return kept


def twice(operation: Callable[[], Any]) -> None:
    """The first edit writes the whole file and learns its layout; the second splices."""
    text = edited(FORM, SetLabel("qty", "en", f"Warm-up {next(labels)}"))
    text = edited(text, operation())
    edited(text, operation())


def test_relabelling_a_field_is_the_whole_dump() -> None:
    twice(lambda: SetLabel("kind", "zh", f"种类{next(labels)}"))


def test_configuring_and_clearing_a_setting_is_the_whole_dump() -> None:
    text = edited(FORM, ConfigureField("qty", "required", True))
    text = edited(text, ConfigureField("qty", "help", {"zh": "件数", "en": "How many"}))
    edited(text, ConfigureField("name", "required", None))


def test_adding_fields_anywhere_is_the_whole_dump() -> None:
    text = edited(FORM, AddField({"key": "first", "type": "text", "label": "F"}, after=None))
    text = edited(
        text, AddField({"key": "mid", "type": "date", "label": {"zh": "日", "en": "D"}}, "qty")
    )
    edited(text, AddField({"key": "last", "type": "number", "label": "L"}))


def test_moving_the_first_and_last_fields_is_the_whole_dump() -> None:
    text = edited(FORM, MoveField("note", 0))
    text = edited(text, MoveField("name", 3))
    edited(text, MoveField("kind", 1))


def test_hiding_and_removing_fields_is_the_whole_dump() -> None:
    text = edited(FORM, HideField("kind"))
    text = edited(text, HideField("kind", hidden=False))
    text = edited(text, RemoveField("note"))
    edited(text, RemoveField("name"))


def test_removing_every_field_is_the_whole_dump() -> None:
    text = edited(FORM, SetLabel("qty", "en", "Count"))
    for key in ("name", "qty", "kind", "note"):
        text = edited(text, RemoveField(key))


def test_editing_an_option_inside_a_field_is_the_whole_dump() -> None:
    text = edited(FORM, SetValue(("fields", "kind", "options", "b", "label", "en"), "Bee"))
    edited(text, SetValue(("fields", "kind", "options", "a"), None))


def test_changing_outside_the_fields_is_the_whole_dump() -> None:
    text = edited(FORM, SetValue(("permissions", "staff", "read"), "all"))
    text = edited(text, SetLabel("qty", "zh", "件数"))
    edited(text, SetValue(("label",), {"zh": "物品", "en": "Thing"}))


def test_a_change_made_behind_the_documents_back_is_written_whole() -> None:
    text = edited(FORM, SetLabel("qty", "en", "Count"))
    document = Document("forms/item.yaml", text)
    document.get(("fields", "note"))["type"] = "text"
    SetLabel("qty", "en", "Counted").apply(document)
    document.changed = True
    assert document.keep() == document.dumped()
    assert "type: text\n    label: {zh: 备注" in document.text()


def test_an_untouched_document_is_its_text() -> None:
    text = edited(FORM, SetLabel("qty", "en", "Count"))
    assert Document("forms/item.yaml", text).keep() == text


def flow(nodes: int) -> str:
    steps: list[dict[str, Any]] = [{"key": "start", "type": "start", "next": "n0"}]
    for number in range(nodes):
        following = f"n{number + 1}" if number < nodes - 1 else "end"
        steps.append({"key": f"n{number}", "type": "approval", "next": following})
    steps.append({"key": "end", "type": "end"})
    return yaml.safe_dump({"key": "flow", "nodes": steps}, sort_keys=False)


def test_flow_edits_are_the_whole_dump() -> None:
    path = "workflows/flow.yaml"
    text = edited(flow(6), AddStep(Link("n1"), "added"), path)
    text = edited(text, RemoveStep("n3"), path)
    text = edited(text, SetDecisionMode("n4", "all"), path)
    edited(text, AddStep(Link("n0"), "again"), path)


KEYS = st.sampled_from(["name", "qty", "kind", "note", "a1", "b2", "c3"])


class SplicedSession(RuleBasedStateMachine):
    """Random operations, each from the text the last one kept, each the whole dump."""

    def __init__(self) -> None:
        super().__init__()
        self.text = FORM

    def keys(self) -> list[str]:
        return [str(item["key"]) for item in yaml.safe_load(self.text)["fields"]]

    def run(self, operation: Any) -> None:
        self.text = edited(self.text, operation)

    @rule(key=KEYS, at=st.integers(0, 10))
    def add(self, key: str, at: int) -> None:
        keys = self.keys()
        if key not in keys:
            after = keys[at] if at < len(keys) else None
            self.run(AddField({"key": key, "type": "text", "label": {"zh": key, "en": key}}, after))

    @rule(key=KEYS, position=st.integers(0, 10))
    def move(self, key: str, position: int) -> None:
        if key in self.keys():
            self.run(MoveField(key, position))

    @rule(key=KEYS, text=st.text(alphabet="ab 客户'", min_size=1, max_size=6))
    def relabel(self, key: str, text: str) -> None:
        if key in self.keys():
            self.run(SetLabel(key, "en", text))

    @rule(key=KEYS, value=st.sampled_from([True, None, "x > 1"]))
    def configure(self, key: str, value: Any) -> None:
        if key in self.keys():
            self.run(
                ConfigureField(key, "visible_if" if isinstance(value, str) else "required", value)
            )

    @rule(key=KEYS, hidden=st.booleans())
    def hide(self, key: str, hidden: bool) -> None:
        if key in self.keys():
            self.run(HideField(key, hidden))

    @rule(key=KEYS)
    def remove(self, key: str) -> None:
        if key in self.keys() and len(self.keys()) > 1:
            self.run(RemoveField(key))

    @rule(read=st.sampled_from(["all", "own"]))
    def outside(self, read: str) -> None:
        self.run(SetValue(("permissions", "staff", "read"), read))


SplicedSession.TestCase.settings = settings(max_examples=6, stateful_step_count=60, deadline=None)
test_random_edits_are_the_whole_dump_byte_for_byte = SplicedSession.TestCase
