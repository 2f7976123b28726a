"""Text that every supported database stores as it was given.

PostgreSQL refuses the NUL character in text (SQLite keeps it, so a value would save on
one database and fail on the other), and no driver encodes an unpaired surrogate, which
Python's JSON parser makes from an escape like ``"\\ud800"``. Input is checked against
this before it reaches a query, so such a character is the sender's mistake, answered as
one, rather than the database's error.
"""

from __future__ import annotations


def storable(text: str) -> bool:
    """Whether every database can store and compare ``text``."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
