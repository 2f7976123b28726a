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
_ID = re.compile(r"[0-9]{1,19}")


def parse_id(text: str) -> int | None:
    """The id ``text`` names, or ``None`` when no row can have it."""
    if not _ID.fullmatch(text):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: 1 to :data:`MAX_ID` in ASCII digits, else 404.

    It replaces Werkzeug's own ``int`` converter, whose ``\\d+`` matches any script's
    digits and whose values have no upper bound.
    """

    regex = r"[0-9]{1,19}"

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=MAX_ID)
