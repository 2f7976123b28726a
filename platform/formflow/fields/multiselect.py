"""``multiselect``: any number of the field's ``options``, kept as a list of their values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from formflow.fields.base import DefinitionChecks, FieldType
from formflow.fields.kinds import ValueKind
from formflow.fields.select import not_an_option

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class MultiselectType(FieldType):
    name = "multiselect"
    kind = ValueKind.CHOICES
    widget = "multiselect"
    shown_as = "options"

    def check_default(self, field: Field, default: Any, checks: DefinitionChecks) -> None:
        for value in default:
            if value not in field.option_values:
                checks.error(("default",), not_an_option(value, field))


MULTISELECT = MultiselectType()
