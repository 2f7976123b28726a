"""Chinese resident identity card numbers (居民身份证号码) for Formflow.

Adds the field type ``cn_id_card``, the expression function ``id_card_birth_date``, and
refuses new records whose ``adults_only`` ID card field belongs to someone under 18.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from formflow import hookimpl
from formflow.definitions import Form
from formflow.fields import FieldType, ValueKind


def check_id_card(value: Any) -> str:
    """The number as stored, or ``ValueError`` with a message for the person typing it."""
    try:
        return str(ric.validate(str(value)))
    except ValidationError as exc:
        raise ValueError(f"不是有效的身份证号码 (not a valid ID card number: {exc})") from None


def id_card_birth_date(number: str | None) -> datetime.date | None:
    """The birth date written in an ID card number; ``None`` for no number."""
    return ric.get_birth_date(number) if number else None


@hookimpl
def formflow_field_types() -> list[FieldType]:
    return [
        FieldType(
            "cn_id_card",
            ValueKind.TEXT,
            searchable=True,
            options_schema={
                "type": "object",
                "properties": {"adults_only": {"type": "boolean"}},
            },
            coerce=check_id_card,
        )
    ]


@hookimpl
def formflow_expression_functions() -> dict[str, Callable[..., Any]]:
    return {"id_card_birth_date": id_card_birth_date}


@hookimpl
def formflow_before_create(form: Form, values: Mapping[str, Any]) -> str | None:
    for field in form.fields:
        if field.type == "cn_id_card" and field.settings.get("adults_only"):
            born = id_card_birth_date(values.get(field.key))
            if born is not None and age(born, datetime.date.today()) < 18:
                return f"{field.label}: 须年满 18 周岁 (must be 18 or over)"
    return None


def age(born: datetime.date, on: datetime.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
