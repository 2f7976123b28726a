"""Pages where signed-in people look after their own sign-in: where they are signed in
(and ending those sessions), their password, and their second factor.

Changing the password ends every session of the user, this browser's too, and then signs
this browser in again with a new session: whoever held a copy of an old cookie is out.
"""

from __future__ import annotations

from collections.abc import Callable

import segno
from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy.engine import Connection
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from formflow import accounts
from formflow.accounts import second_factor, sessions
from formflow.lifecycle.instance import Instance
from formflow.storage.database import read_transaction, write_transaction
from formflow.web import context
from formflow.web.auth import sign_in
from formflow.web.validators import new_password_checks, password_policy, refusal_message

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
            if not accounts.check_password(connection, me.id, form.current_password.data):
                form.current_password.errors.append(_("This is not your current password."))
            else:
                try:
                    accounts.set_password(
                        connection, me.username, form.new_password.data, policy=password_policy()
                    )
                except accounts.WeakPassword as refused:
                    form.new_password.errors.append(refusal_message(refused))
        if not form.current_password.errors and not form.new_password.errors:
            sign_in(me.id, remember=False)
            flash(_("Your password was changed; you were signed out everywhere else."))
            return redirect(url_for("account.sessions_page"))
    return render_template(
        "account/password.html", form=form, min_password=accounts.MIN_PASSWORD_LENGTH
    )


class CodeConfirmForm(FlaskForm):  # type: ignore[misc]
    code = StringField(
        _l("Code from the app"), validators=[InputRequired(_l("Enter the code.")), Length(max=40)]
    )


class PasswordConfirmForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField(
        _l("Your password"), validators=[InputRequired(_l("Enter a password.")), Length(max=200)]
    )


@blueprint.route("/second-factor", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def second_factor_page() -> str | Response:
    """Where the second factor stands; while turning it on, the QR code and the first code."""
    me = context.user()
    form = CodeConfirmForm()
    with write_transaction(context.instance().engine) as connection:
        found = second_factor.status(connection, me.id)
        secret = None if found.enrolled else second_factor.pending_secret(connection, me.id)
        if secret is not None and form.validate_on_submit():
            try:
                codes = second_factor.confirm_enrolment(connection, me.id, form.code.data)
            except second_factor.WrongCode:
                form.code.errors.append(
                    _("That code does not match. Check the phone's time and try the next code.")
                )
            else:
                return render_template("account/recovery_codes.html", codes=codes)
    uri = None if secret is None else second_factor.provisioning_uri(secret, me.username)
    return render_template(
        "account/second_factor.html",
        status=found,
        secret=secret,
        uri=uri,
        qr=None if uri is None else Markup(segno.make(uri, error="m").svg_inline(scale=4)),
        form=form,
        off_form=PasswordConfirmForm(),
    )


@blueprint.post("/second-factor/start")
@login_required  # type: ignore[untyped-decorator]
def start_second_factor() -> Response:
    with write_transaction(context.instance().engine) as connection:
        if not second_factor.is_enrolled(connection, context.user().id):
            second_factor.begin_enrolment(connection, context.user().id)
    return redirect(url_for("account.second_factor_page"))


@blueprint.post("/second-factor/off")
@login_required  # type: ignore[untyped-decorator]
def second_factor_off() -> str | Response:
    def turn_off(connection: Connection, user_id: int) -> Response:
        second_factor.turn_off(connection, user_id)
        flash(_("Your second factor is off."))
        return redirect(url_for("account.second_factor_page"))

    return _with_password(turn_off)


@blueprint.post("/second-factor/recovery-codes")
@login_required  # type: ignore[untyped-decorator]
def new_recovery_codes() -> str | Response:
    def renew(connection: Connection, user_id: int) -> str | None:
        if not second_factor.is_enrolled(connection, user_id):
            return None
        codes = second_factor.new_recovery_codes(connection, user_id)
        return render_template("account/recovery_codes.html", codes=codes)

    return _with_password(renew)


def _with_password(act: Callable[[Connection, int], str | Response | None]) -> str | Response:
    """Do ``act`` once the posted password is the user's own (a borrowed, signed-in phone
    is not enough to change the second factor) and answer with its page; without the
    password, or when ``act`` has nothing to do, back to the second-factor page."""
    form = PasswordConfirmForm()
    me = context.user()
    if form.validate_on_submit():
        with write_transaction(context.instance().engine) as connection:
            if accounts.check_password(connection, me.id, form.password.data):
                answer = act(connection, me.id)
                if answer is not None:
                    return answer
        flash(_("This is not your current password."))
    return redirect(url_for("account.second_factor_page"))


SETTING_UP = frozenset(
    {
        "account.second_factor_page",
        "account.start_second_factor",
        "auth.logout",
        "auth.language",
        "static",
        "assets.vendor",
    }
)
"""Where an administrator who must set up a second factor may go meanwhile."""


def _require_admin_second_factor() -> Response | None:
    """With ``FORMFLOW_ADMIN_SECOND_FACTOR``, an administrator's every page leads to setting
    up a second factor until it is on."""
    if request.endpoint in SETTING_UP or request.blueprint == "api":
        return None
    if not current_user.is_authenticated or not context.user().is_admin:
        return None
    with read_transaction(context.instance().engine) as connection:
        if second_factor.is_enrolled(connection, context.user().id):
            return None
    flash(_("Administrators must set up a second factor first."))
    return redirect(url_for("account.second_factor_page"))


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
    formflow: Instance = app.extensions["formflow"]
    if formflow.settings.admin_second_factor:
        app.before_request(_require_admin_second_factor)
