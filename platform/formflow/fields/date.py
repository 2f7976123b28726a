"""``date``: a calendar day, written YYYY-MM-DD, within ``min``/``max`` days."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from formflow.fields.base import DefinitionChecks, FieldType, is_date
from formflow.fields.kinds import ValueKind

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class DateType(FieldType):
    name = "date"
    kind = ValueKind.DATE
    widget = "date"

    def check(self, field: Field, item: Mapping[str, Any], checks: DefinitionChecks) -> None:
        for bound in ("min", "max"):
            if bound in item and not is_date(item[bound]):
                checks.error((bound,), f"{bound} must be a date written YYYY-MM-DD")

    def check_default(self, field: Field, default: Any, checks: DefinitionChecks) -> None:
        if not is_date(default):
            checks.error(("default",), "default must be a date written YYYY-MM-DD")


DATE = DateType()
