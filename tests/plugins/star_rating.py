"""A star rating (1 to ``stars``, 5 unless the field says) for Formflow: a field type that is
one module, to show what a plugin's type takes.

It subclasses nothing but :class:`FieldType`: the kind (whole numbers) gives it its column,
its JSON shape and its filters; the type adds its own definition key, a check of its
default, the bound on values and what the API document says of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, tzinfo
from typing import Any

from formflow import hookimpl
from formflow.definitions.model import Field
from formflow.fields import DefinitionChecks, FieldType, Invalid, Purpose, ValueKind
from formflow.fields.json_values import Schema

DEFAULT_STARS = 5


class StarRating(FieldType):
    name = "star_rating"
    kind = ValueKind.INTEGER
    options_schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {"stars": {"type": "integer", "minimum": 2, "maximum": 10}},
    }

    def check_default(self, field: Field, default: Any, checks: DefinitionChecks) -> None:
        if not (isinstance(default, int) and 1 <= default <= stars(field)):
            checks.error(("default",), f"default must be from 1 to {stars(field)} stars")

    def parse(
        self, field: Field, value: Any, purpose: Purpose = Purpose.INPUT, timezone: tzinfo = UTC
    ) -> Any:
        rating = super().parse(field, value, purpose, timezone)
        if purpose is not Purpose.FILTER and not 1 <= rating <= stars(field):
            raise Invalid("range", "must be from 1 to %(stars)s stars", stars=stars(field))
        return rating

    def json_schema(self, field: Field, *, writing: bool) -> Schema:
        return {"type": "integer", "minimum": 1, "maximum": stars(field)}


def stars(field: Field) -> int:
    return int(field.settings.get("stars", DEFAULT_STARS))


@hookimpl
def formflow_field_types() -> list[FieldType]:
    return [StarRating()]
