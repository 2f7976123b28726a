"""A stand-in for a field whose ``type`` names no field type.

The definition is already refused for the unknown type; compiling the field with this
stand-in keeps it in its form, so the list, rules and other files that name it are not
reported as naming an unknown field as well (one mistake, one message). It accepts
whatever a text field accepts and checks nothing of its own. It is never registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from formflow.fields.base import DefinitionChecks, FieldType
from formflow.fields.kinds import ValueKind

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class UntypedType(FieldType):
    name = "untyped"
    kind = ValueKind.TEXT
    searchable = True

    def check(self, field: Field, item: Mapping[str, Any], checks: DefinitionChecks) -> None:
        """Nothing: which settings fit is the unknown type's to say."""

    def check_default(self, field: Field, default: Any, checks: DefinitionChecks) -> None:
        """Nothing: which default fits is the unknown type's to say."""


UNTYPED = UntypedType()
