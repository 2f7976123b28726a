"""A page where signed-in people make, list and revoke their own API tokens.

A new token's plaintext is shown once, in the response to the request that made it, and
never stored: the page says so, and the response is marked not to be cached.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from formflow.accounts import tokens
from formflow.storage.database import read_transaction, write_transaction
from formflow.web import context, navigation
from formflow.web.validators import storable_text

blueprint = Blueprint("tokens", __name__, url_prefix="/account/tokens")


LIFETIMES = {"": None, "7": 7, "30": 30, "90": 90, "365": 365}
"""What the page offers, in days; ``formflow token create --expires`` takes any number."""


class TokenForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        _l("Name"), validators=[DataRequired(), Length(max=tokens.MAX_NAME_LENGTH), storable_text]
    )
    expires = SelectField(
        _l("Expires"),
        choices=[
            SelectChoice("", _l("Does not expire")),
            SelectChoice("7", _l("In 7 days")),
            SelectChoice("30", _l("In 30 days")),
            SelectChoice("90", _l("In 90 days")),
            SelectChoice("365", _l("In a year")),
        ],
        default="",
    )
    read_only = BooleanField(_l("Read only"))
    forms = SelectMultipleField(
        _l("Only these forms"),
        choices=[],
        validate_choice=True,
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )


def _with_forms(form: TokenForm) -> TokenForm:
    """The forms a token may be limited to: those the user may read, by app."""
    form.forms.choices = [
        SelectChoice(f"{section.app_key}/{link.form_key}", f"{section.label} · {link.label}")
        for section in navigation.nav_sections()
        for link in section.links
    ]
    return form


@blueprint.get("/")
@login_required  # type: ignore[untyped-decorator]
def index() -> str:
    return _page(_with_forms(TokenForm()))


@blueprint.post("/")
@login_required  # type: ignore[untyped-decorator]
def create() -> str | Response:
    form = _with_forms(TokenForm())
    if not form.validate_on_submit():
        return _page(form)
    scope = tokens.TokenScope(
        read_only=bool(form.read_only.data),
        forms=frozenset(form.forms.data) if form.forms.data else None,
    )
    with write_transaction(context.instance().engine) as connection:
        days = LIFETIMES[form.expires.data]
        _token_id, plaintext = tokens.create_token(
            connection,
            context.user().id,
            form.name.data,
            expires_in=None if days is None else timedelta(days=days),
            scope=scope,
        )
    response = Response(
        render_template("tokens/created.html", name=form.name.data.strip(), token=plaintext)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/<int:token_id>/revoke")
@login_required  # type: ignore[untyped-decorator]
def revoke(token_id: int) -> Response:
    """Revoke one of the user's own tokens (CSRFProtect has checked the POST)."""
    with write_transaction(context.instance().engine) as connection:
        revoked = tokens.revoke_token(connection, context.user().id, token_id)
    flash(_("The token was revoked.") if revoked else _("No such token."))
    return redirect(url_for("tokens.index"))


def _page(form: TokenForm) -> str:
    with read_transaction(context.instance().engine) as connection:
        found = tokens.list_tokens(connection, context.user().id)
    return render_template("tokens/index.html", form=form, tokens=found)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
