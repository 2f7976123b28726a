"""Ids as they arrive in URLs and forms: ASCII digits that fit a 64-bit column, or nothing.

Python reads more as a number than a database stores: ``"²".isdigit()`` is true yet
``int("²")`` fails, ``int("٣")`` is 3, and ``int`` takes any length, while every id column
is a signed 64-bit integer that the driver refuses to overflow. Every id the web layer
reads goes through here, so an id no row can have is "not found" or a field error, never a
server error.
"""

from __future__ import annotations

import re

from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**63 - 1
NO_ID = 0
"""The id no record has (ids start at 1)."""
_ID = re.compile(r"[0-9]{1,19}")


def parse_id(text: str) -> int | None:
    """The id ``text`` names, or ``None`` when no row can have it."""
    if not _ID.fullmatch(text):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: ASCII digits only; an id no row can have is 0.

    It replaces Werkzeug's own ``int`` converter, whose ``\\d+`` matches any script's
    digits and whose values have no upper bound. An id of 19 digits past :data:`MAX_ID`
    (or 0) still matches the route and reaches the view as :data:`NO_ID`, which no record
    has, so it is "not found" for every method: refused by the converter, it would be a
    405 for the methods of the route's siblings instead.
    """

    regex = r"[0-9]{1,19}"

    def __init__(self, map: Map) -> None:
        super().__init__(map)

    def to_python(self, value: str) -> int:
        return parse_id(value) or NO_ID
