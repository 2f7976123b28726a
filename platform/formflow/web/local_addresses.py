"""Addresses a request asks to be sent back to (``next``, ``_next``, ``back``): only a path
on this site, checked in one place.

A browser reading a ``Location`` header drops tabs and line breaks and takes a backslash
for a slash, so ``/\\t/evil.example`` or ``/\\\\evil.example`` leads off the site although
they start with one slash; and a line break in a header value fails the response with a
server error. Every page that redirects to an address it was sent asks here first.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")
"""Control characters and backslashes: what browsers drop or reinterpret."""


def local_address(address: str | None) -> str | None:
    """``address`` when it is a path on this site, else ``None``."""
    if not address or not address.startswith("/") or address.startswith("//"):
        return None
    if _UNSAFE.search(address):
        return None
    parts = urlsplit(address)
    if parts.scheme or parts.netloc:
        return None
    return address
