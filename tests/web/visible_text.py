"""What a person sees or hears of a page, and the English sentences in it.

A page in Chinese may still show English words: product names, ``ID``, ``API``, units. What it
must not show is an English phrase, so the check looks for runs of two or more English words
once the allowed words are taken out.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

SPOKEN_ATTRIBUTES = ("placeholder", "aria-label", "title", "alt")
UNSEEN = frozenset({"script", "style", "template", "head"})
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
ALLOWED = frozenset(
    {
        "formflow",
        "english",
        "id",
        "api",
        "csv",
        "json",
        "url",
        "http",
        "https",
        "kb",
        "mb",
        "gb",
        "cny",
        "usd",
        "eur",
        "am",
        "pm",
    }
)
_RUN = re.compile(r"[A-Za-z]+(?:[ \t]+[A-Za-z]+)*")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._unseen: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag not in VOID and (tag in UNSEEN or "hidden" in found or self._unseen):
            self._unseen.append(tag)
        if self._unseen and tag not in VOID:
            return
        if self._unseen or found.get("type") == "hidden":
            return
        self.parts.extend(str(found[name]) for name in SPOKEN_ATTRIBUTES if found.get(name))
        if tag == "input" and found.get("type") in ("submit", "button") and found.get("value"):
            self.parts.append(str(found["value"]))

    def handle_endtag(self, tag: str) -> None:
        if self._unseen and self._unseen[-1] == tag:
            self._unseen.pop()

    def handle_data(self, data: str) -> None:
        if not self._unseen and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    """The pieces of text a page shows (and says to screen readers), in document order."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser.parts


def english_phrases(pieces: list[str], data: frozenset[str] = frozenset()) -> list[str]:
    """Runs of two or more English words in ``pieces``, leaving out allowed words and the
    pieces in ``data`` (values people entered, which may be in any language)."""
    found = []
    for piece in pieces:
        if piece in data:
            continue
        for run in _RUN.findall(piece):
            words = [w for w in run.split() if w.lower() not in ALLOWED and len(w) > 1]
            if len(words) >= 2:
                found.append(run)
    return found
