"""Checks shared by the platform's own forms: signing in, users, departments, API tokens.

Record forms are checked by the record service; these forms write to the platform's
tables directly, so what no database can store is refused here, next to its field.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.validators import InputRequired, Length, ValidationError

from formflow import accounts
from formflow.storage.text import storable
from formflow.web import context


def storable_text(form: Any, field: Any) -> None:
    """A WTForms validator: refuses text with a NUL or an unpaired surrogate character."""
    if isinstance(field.data, str) and not storable(field.data):
        raise ValidationError(_l("Remove the characters that cannot be saved (such as NUL)."))


def password_policy() -> accounts.PasswordPolicy:
    """The instance's rules for new passwords."""
    return accounts.PasswordPolicy.of(context.instance().settings)


def refusal_message(refused: accounts.WeakPassword) -> str:
    """Why the policy refused a password, in the reader's language."""
    return str(_(refused.template, **refused.params))


def new_password_checks() -> list[Any]:
    """What a new password must satisfy, on every form that sets one."""
    return [
        InputRequired(_l("Enter a password.")),
        Length(
            min=accounts.MIN_PASSWORD_LENGTH,
            message=_l("A password needs at least %(min)d characters."),
        ),
        Length(max=200),
    ]
