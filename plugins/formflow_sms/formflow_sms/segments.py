"""How many characters and segments an SMS takes, signature included.

A message of GSM-7 characters (plain ASCII here) fits 160 to a segment, 153 each when it
takes several; any other character (Chinese) makes it UCS-2: 70 to a segment, 67 each when
concatenated. Chinese carriers count the signature (``【公司】``) as part of the text.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class Count:
    """The length as the carrier counts it."""

    characters: int
    segments: int
    encoding: str
    """``gsm`` or ``ucs2``."""


def signed(text: str, signature: str) -> str:
    """The text as sent: the signature in 【】 before it, when there is one."""
    return f"【{signature}】{text}" if signature else text


def count(text: str, signature: str = "") -> Count:
    """Characters and segments of ``text`` sent with ``signature``."""
    whole = signed(text, signature)
    gsm = whole.isascii()
    single, part = (GSM_SINGLE, GSM_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    length = len(whole)
    if length == 0:
        segments = 0
    elif length <= single:
        segments = 1
    else:
        segments = -(-length // part)
    return Count(length, segments, "gsm" if gsm else "ucs2")
