"""``percent``: a percentage, kept as the number shown before the ``%`` (12.5 for 12.5 %)."""

from __future__ import annotations

from formflow.fields.kinds import ValueKind
from formflow.fields.number import NumberType


class PercentType(NumberType):
    name = "percent"
    kind = ValueKind.DECIMAL
    default_scale = 2
    shown_as = "percent"


PERCENT = PercentType()
