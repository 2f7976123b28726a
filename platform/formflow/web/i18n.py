"""Languages: Simplified Chinese and English, chosen per user.

Interface text goes through Flask-Babel (catalogues in ``formflow/translations``); text from
app definitions comes with both languages already, and :func:`text` picks the right one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g, request, session
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from flask_login import current_user

from formflow.definitions.model import Form, Label
from formflow.errors import Problem, RecordError, ValidationFailed, render

LANGUAGES = ("zh", "en")


def select_locale() -> str:
    """The request's language, the first of:

    1. the signed-in person's own choice, kept on their account (it follows them from
       browser to browser, and back after the session expires);
    2. the choice made in this browser before signing in (the session's);
    3. the browser's, or API client's, ``Accept-Language``;
    4. the choice of the person an API token belongs to: after the client's header, so a
       program that asks per request is answered so;
    5. the instance's ``FORMFLOW_LANGUAGE``;
    6. Chinese.
    """
    user = current_user.user if current_user.is_authenticated else None
    asked = request.accept_languages.best_match(LANGUAGES)
    identity = g.get("api_identity")
    token_user = getattr(identity, "user", None)
    instance_language = current_app.extensions["formflow"].settings.language
    for found in (
        getattr(user, "language", None),
        session.get("language"),
        asked,
        getattr(token_user, "language", None),
        instance_language,
    ):
        if found in LANGUAGES:
            return str(found)
    return "zh"


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


def translations() -> Translations | NullTranslations:
    """The request's catalogue, looked up once: a page translates dozens of strings."""
    found: Translations | NullTranslations | None = g.get("formflow_translations")
    if found is None:
        found = get_translations()
        g.formflow_translations = found
    return found


def translate(template: str, params: Mapping[str, Any]) -> str:
    """An engine message id, filled in with ``params``, in the request's language.

    The engine raises English message ids (marked with ``N_``); this is where they meet the
    catalogue. A message the catalogue lacks, or whose translation does not fit its
    parameters, is shown in English rather than not at all.
    """
    translated = translations().ugettext(template) if template else template
    shown = {  # a problem quoted in a message (a query's part that does not fit) is one too
        key: problem_message(value) if isinstance(value, Problem) else value
        for key, value in params.items()
    }
    try:
        return render(translated, shown, language())
    except (KeyError, ValueError, TypeError):
        return render(template, params)


def problem_message(problem: Problem) -> str:
    return translate(problem.template, dict(problem.params))


def error_message(error: RecordError, form: Form | None = None) -> str:
    """What went wrong, in the request's language; with the ``form`` written, each problem
    is placed by its field's label (保管人), not its key (keeper)."""
    if isinstance(error, ValidationFailed):
        whole = _("record")
        return "; ".join(
            f"{_field_name(form, key) if key else whole}: "
            + ", ".join(problem_message(p) for p in found)
            for key, found in error.problems.items()
        )
    return translate(error.template, error.params)


def _field_name(form: Form | None, key: str) -> str:
    if form is not None and form.has_field(key):
        return text(form.field(key).label)
    return key


def init_app(app: Flask) -> None:
    """After Flask-Babel's ``init_app``: templates translate through :func:`translations`."""
    app.jinja_env.filters["text"] = text
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )

    @app.context_processor
    def _languages() -> dict[str, Any]:
        return {"language": language(), "languages": LANGUAGES}
