"""``datetime``: a moment, kept in UTC and shown in the instance's time zone; a time typed
without a zone is read in that zone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from formflow.fields.base import DefinitionChecks, FieldType, is_datetime
from formflow.fields.kinds import ValueKind

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class DatetimeType(FieldType):
    name = "datetime"
    kind = ValueKind.DATETIME
    widget = "datetime"

    def check_default(self, field: Field, default: Any, checks: DefinitionChecks) -> None:
        if not is_datetime(default):
            checks.error(
                ("default",), "default must be a date and time written like 2026-01-31T09:30:00"
            )


DATETIME = DatetimeType()
