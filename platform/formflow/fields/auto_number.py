"""``auto_number``: a number the engine gives each new record from the field's ``pattern``
(``HT-{YYYY}{MM}-{####}``): date parts and one counter."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from formflow.fields.base import DefinitionChecks, FieldType
from formflow.fields.kinds import ValueKind

if TYPE_CHECKING:
    from formflow.definitions.model import Field

_TOKEN = re.compile(r"\{([^{}]*)\}")
DATE_TOKENS = frozenset({"YYYY", "YY", "MM", "DD"})
MAX_COUNTER_DIGITS = 12


class AutoNumberType(FieldType):
    name = "auto_number"
    kind = ValueKind.TEXT
    searchable = True
    computed = True

    def settings(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"pattern": None, "number_pattern": item.get("pattern")}

    def check(self, field: Field, item: Mapping[str, Any], checks: DefinitionChecks) -> None:
        pattern = field.number_pattern
        if pattern is None:
            return
        tokens = _TOKEN.findall(pattern)
        counters = [t for t in tokens if t and set(t) == {"#"}]
        for token in tokens:
            if token not in DATE_TOKENS and not (token and set(token) == {"#"}):
                checks.error(
                    ("pattern",),
                    f"unknown token '{{{token}}}' in pattern; use {{YYYY}}, {{YY}}, {{MM}}, {{DD}} and one {{####}}",
                )
        if len(counters) != 1:
            checks.error(
                ("pattern",),
                f"pattern needs exactly one counter such as {{####}}, found {len(counters)}",
            )
        elif len(counters[0]) > MAX_COUNTER_DIGITS:
            checks.error(("pattern",), f"the counter may have at most {MAX_COUNTER_DIGITS} '#'")


AUTO_NUMBER = AutoNumberType()
