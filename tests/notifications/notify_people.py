"""Who is told in the notification tests (see conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class People:
    ann: int
    """Reads English, has an e-mail address."""
    bo: int
    """Reads Chinese, has an e-mail address, holds the role ``manager`` in app ``shop``."""
    cy: int
    """Has no e-mail address."""
