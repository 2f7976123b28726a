"""Pages where signed-in people look after their own sign-in: where they are signed in
(and ending those sessions), and their password.

Changing the password ends every session of the user, this browser's too, and then signs
this browser in again with a new session: whoever held a copy of an old cookie is out.
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import login_required, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms.validators import EqualTo, InputRequired, Length

from formflow import accounts
from formflow.accounts import sessions
from formflow.storage.database import read_transaction, write_transaction
from formflow.web import context
from formflow.web.auth import sign_in
from formflow.web.validators import new_password_checks

blueprint = Blueprint("account", __name__, url_prefix="/account")


class PasswordChangeForm(FlaskForm):  # type: ignore[misc]
    current_password = PasswordField(
        _l("Current password"), validators=[InputRequired(_l("Enter a password.")), Length(max=200)]
    )
    new_password = PasswordField(
        _l("New password"),
        validators=new_password_checks(),
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[
            InputRequired(_l("Enter a password.")),
            EqualTo("new_password", message=_l("The two passwords differ.")),
        ],
    )


@blueprint.get("/sessions")
@login_required  # type: ignore[untyped-decorator]
def sessions_page() -> str:
    with read_transaction(context.instance().engine) as connection:
        found = sessions.list_sessions(connection, context.user().id)
    return render_template(
        "account/sessions.html", sessions=found, current=context.web_user().session_id
    )


@blueprint.post("/sessions/<int:session_id>/end")
@login_required  # type: ignore[untyped-decorator]
def end_session(session_id: int) -> Response:
    """End one of the user's own sessions (CSRFProtect has checked the POST); ending this
    browser's own session signs it out."""
    me = context.web_user()
    with write_transaction(context.instance().engine) as connection:
        ended = sessions.end_session(connection, me.user.id, session_id)
    if ended and session_id == me.session_id:
        logout_user()
        flash(_("You have signed out."))
        return redirect(url_for("auth.login"))
    flash(_("The session was ended.") if ended else _("No such session."))
    return redirect(url_for("account.sessions_page"))


@blueprint.post("/sessions/end-others")
@login_required  # type: ignore[untyped-decorator]
def end_other_sessions() -> Response:
    me = context.web_user()
    with write_transaction(context.instance().engine) as connection:
        ended = sessions.end_sessions(connection, me.user.id, keep=me.session_id)
    flash(ngettext("%(num)d other session was ended.", "%(num)d other sessions were ended.", ended))
    return redirect(url_for("account.sessions_page"))


@blueprint.route("/password", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def password() -> str | Response:
    form = PasswordChangeForm()
    if form.validate_on_submit():
        me = context.user()
        with write_transaction(context.instance().engine) as connection:
            if accounts.check_password(connection, me.id, form.current_password.data):
                accounts.set_password(connection, me.username, form.new_password.data)
            else:
                form.current_password.errors.append(_("This is not your current password."))
        if not form.current_password.errors:
            sign_in(me.id, remember=False)
            flash(_("Your password was changed; you were signed out everywhere else."))
            return redirect(url_for("account.sessions_page"))
    return render_template(
        "account/password.html", form=form, min_password=accounts.MIN_PASSWORD_LENGTH
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
