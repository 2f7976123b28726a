"""Languages: Simplified Chinese and English, chosen per user.

Interface text goes through Flask-Babel (catalogues in ``formflow/translations``); text from
app definitions comes with both languages already, and :func:`text` picks the right one.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request, session
from flask_babel import get_locale

from formflow.definitions.model import Label

LANGUAGES = ("zh", "en")


def select_locale() -> str:
    """The session's choice, else the browser's preference, else Chinese."""
    chosen = session.get("language")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(LANGUAGES) or "zh"


def language() -> str:
    """The request's language, ``zh`` or ``en``; a page asks often, so it is kept in ``g``."""
    found: str | None = g.get("formflow_language")
    if found is None:
        found = "en" if str(get_locale()).startswith("en") else "zh"
        g.formflow_language = found
    return found


def text(label: Label | str | None) -> str:
    """A definition label in the current language."""
    if label is None:
        return ""
    if isinstance(label, str):
        return label
    return label.text(language())


def init_app(app: Flask) -> None:
    app.jinja_env.filters["text"] = text

    @app.context_processor
    def _languages() -> dict[str, Any]:
        return {"language": language(), "languages": LANGUAGES}
