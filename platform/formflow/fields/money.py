"""``money``: an amount in the field's ``currency`` (CNY unless it says), two places unless
``scale`` says, kept exactly as a decimal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formflow.fields.kinds import ValueKind
from formflow.fields.number import NumberType

DEFAULT_CURRENCY = "CNY"


class MoneyType(NumberType):
    name = "money"
    kind = ValueKind.DECIMAL
    default_scale = 2
    shown_as = "money"

    def settings(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().settings(item), "currency": item.get("currency", DEFAULT_CURRENCY)}


MONEY = MoneyType()
