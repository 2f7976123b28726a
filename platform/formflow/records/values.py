"""Turning submitted input into stored values, one field at a time.

Input comes from HTML forms (everything is text), the JSON API and imports, so each field
accepts the forms a person or a client would reasonably send and its type converts them to
one stored shape: ``Decimal`` for money, ``date`` for dates, E.164 for phone numbers, and
so on (:mod:`formflow.fields`). A value that cannot be converted raises
:class:`~formflow.fields.Invalid` with a problem the user can act on; nothing is silently
rounded, truncated or guessed.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any

from formflow.definitions.model import Field
from formflow.fields import Purpose, is_empty
from formflow.fields.values import check_typed_characters, shows_nothing


class ValueConverter:
    """Converts input in the instance's time zone (a time typed without a zone is read in it)."""

    def __init__(self, timezone: tzinfo = UTC) -> None:
        self.timezone = timezone

    def convert(self, field: Field, value: Any) -> Any:
        """The stored form of ``value`` for ``field``; ``None`` for an empty value."""
        if isinstance(value, str):
            check_typed_characters(value)
            if field.field_type.strips_input(field):
                value = "" if shows_nothing(value) else value.strip()
        if is_empty(value):
            return None
        return field.field_type.parse(field, value, Purpose.INPUT, self.timezone)
