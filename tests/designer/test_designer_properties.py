"""Whatever an admin does in the designer, the YAML tab says the same as the visual side.

A state machine applies random designer operations (200 a run) both to the YAML document
and to a plain list of fields standing for the visual state; after each one the document's
text and the visual state compile to the same form.
"""

from __future__ import annotations

import textwrap
from typing import Any

import yaml
from designer_support import FORM_WITH_COMMENTS
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from formflow.definitions import load_app
from formflow.definitions.model import Form
from formflow.designer.documents import Document
from formflow.designer.operations import (
    HIDDEN_CONDITION,
    AddField,
    HideField,
    MoveField,
    RemoveField,
    SetLabel,
)
from support import MINIMAL_APP_YAML

NEW_KEYS = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])
LABELS = st.text(alphabet="abc 客户行业", min_size=1, max_size=8).map(str.strip).filter(bool)
TYPES = st.sampled_from(["text", "number", "date", "bool", "textarea"])
FIXED = {"name", "qty"}  # the title and the formula's input stay


def compiled(form_text: str) -> Form:
    files = {"app.yaml": textwrap.dedent(MINIMAL_APP_YAML), "forms/item.yaml": form_text}
    return load_app(files).forms["item"]


class DesignerSession(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.document = Document("forms/item.yaml", FORM_WITH_COMMENTS)
        plain = yaml.safe_load(FORM_WITH_COMMENTS)
        self.visual: dict[str, Any] = plain

    @property
    def fields(self) -> list[dict[str, Any]]:
        return self.visual["fields"]  # type: ignore[no-any-return]

    def keys(self) -> list[str]:
        return [item["key"] for item in self.fields]

    @rule(key=NEW_KEYS, kind=TYPES, zh=LABELS, after=st.integers(0, 20))
    def add(self, key: str, kind: str, zh: str, after: int) -> None:
        if key in self.keys():
            return
        anchor = self.keys()[min(after, len(self.fields) - 1)]
        settings_ = {"key": key, "type": kind, "label": {"zh": zh, "en": key}}
        AddField(settings_, after=anchor).apply(self.document)
        self.fields.insert(self.keys().index(anchor) + 1, dict(settings_))

    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.keys()))
        position = data.draw(st.integers(0, len(self.fields) - 1))
        MoveField(key, position).apply(self.document)
        item = self.fields.pop(self.keys().index(key))
        self.fields.insert(position, item)

    @rule(data=st.data(), language=st.sampled_from(["zh", "en"]), text=LABELS)
    def relabel(self, data: st.DataObject, language: str, text: str) -> None:
        key = data.draw(st.sampled_from(self.keys()))
        SetLabel(key, language, text).apply(self.document)
        self.fields[self.keys().index(key)]["label"][language] = text

    @rule(data=st.data(), hidden=st.booleans())
    def hide(self, data: st.DataObject, hidden: bool) -> None:
        key = data.draw(st.sampled_from(self.keys()))
        HideField(key, hidden).apply(self.document)
        item = self.fields[self.keys().index(key)]
        if hidden:
            item["visible_if"] = HIDDEN_CONDITION
        elif item.get("visible_if") == HIDDEN_CONDITION:
            del item["visible_if"]

    @precondition(lambda self: any(key not in FIXED | {"total"} for key in self.keys()))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        removable = [key for key in self.keys() if key not in FIXED | {"total"}]
        key = data.draw(st.sampled_from(removable))
        RemoveField(key).apply(self.document)
        del self.fields[self.keys().index(key)]

    @invariant()
    def yaml_and_visual_state_compile_alike(self) -> None:
        visual_text = yaml.safe_dump(self.visual, allow_unicode=True, sort_keys=False)
        assert compiled(self.document.text()) == compiled(visual_text)


DesignerSession.TestCase.settings = settings(max_examples=4, stateful_step_count=200, deadline=None)
test_designer_operations_keep_yaml_and_visual_state_alike = DesignerSession.TestCase
