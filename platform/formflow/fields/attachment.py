"""``attachment``: uploaded files (one unless ``multiple``), each at most ``max_size_mb``
(20 unless it says) and of the types ``accept`` lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formflow.fields.base import FieldType
from formflow.fields.kinds import ValueKind

DEFAULT_MAX_SIZE_MB = 20


class AttachmentType(FieldType):
    name = "attachment"
    kind = ValueKind.FILES
    widget = "files"

    def settings(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"max_size_mb": item.get("max_size_mb", DEFAULT_MAX_SIZE_MB)}


ATTACHMENT = AttachmentType()
