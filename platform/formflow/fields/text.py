"""``text``: one line of text, searchable; 255 characters unless ``max_length`` says."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formflow.fields.base import DEFAULT_TEXT_LENGTH, FieldType
from formflow.fields.kinds import ValueKind


class TextType(FieldType):
    name = "text"
    kind = ValueKind.TEXT
    searchable = True

    def settings(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"max_length": item.get("max_length", DEFAULT_TEXT_LENGTH)}


TEXT = TextType()
