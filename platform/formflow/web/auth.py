"""Signing in and out, with throttling after repeated failures from one client.

Each sign-in starts a server-side session (:mod:`formflow.accounts.sessions`); signing out ends it.
Someone with a second factor (:mod:`formflow.accounts.second_factor`) gives their password,
then a code on a second page: between the two, the browser's session holds only who passed
the first step and when, and no session on the server exists yet.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.engine import Connection
from werkzeug.wrappers import Response
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from formflow import accounts
from formflow.accounts import second_factor, sessions
from formflow.storage.database import read_transaction, write_transaction
from formflow.web import address_checks
from formflow.web.context import WebUser, instance, web_user
from formflow.web.i18n import LANGUAGES
from formflow.web.local_addresses import local_address
from formflow.web.validators import storable_text

blueprint = Blueprint("auth", __name__)


class LoginForm(FlaskForm):  # type: ignore[misc]
    username = StringField("username", validators=[DataRequired(), Length(max=150), storable_text])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("remember")


class CodeForm(FlaskForm):  # type: ignore[misc]
    code = StringField("code", validators=[DataRequired(), Length(max=40)])


PASSED_PASSWORD = "passed_password"
CODE_WINDOW_SECONDS = 300
"""How long after the password the code may follow."""


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        user, problem = _check(form.username.data.strip(), form.password.data)
        if user is not None and _refused_here(user.id):
            user, problem = None, address_checks.refusal()
        if user is not None:
            remember = bool(form.remember.data)
            with read_transaction(instance().engine) as connection:
                needs_code = second_factor.is_enrolled(connection, user.id)
            if needs_code:
                session[PASSED_PASSWORD] = {
                    "user": user.id,
                    "name": user.username,
                    "remember": remember,
                    "at": time.time(),
                    "next": _safe_next(request.args.get("next")),
                }
                return redirect(url_for("auth.code"))
            if sign_in(user.id, remember=remember):
                return _signed_in(user, _safe_next(request.args.get("next")))
        form.password.errors.append(problem or _("Wrong username or password."))
    return render_template("auth/login.html", form=form)


@blueprint.route("/login/code", methods=["GET", "POST"])
def code() -> str | Response:
    """The second step: a code from the authenticator app, or a recovery code."""
    passed = session.get(PASSED_PASSWORD)
    if not isinstance(passed, dict) or time.time() - passed.get("at", 0) > CODE_WINDOW_SECONDS:
        session.pop(PASSED_PASSWORD, None)
        flash(_("Sign in again: the time for the code ran out."))
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        problem = _check_code(passed, form.code.data)
        if not problem:
            session.pop(PASSED_PASSWORD, None)
            with read_transaction(instance().engine) as connection:
                user = accounts.get_user(connection, int(passed["user"]))
            if user is not None and sign_in(user.id, remember=bool(passed["remember"])):
                return _signed_in(user, str(passed["next"]))
            problem = _("Wrong username or password.")
        form.code.errors.append(problem)
    return render_template("auth/code.html", form=form)


def _refused_here(user_id: int) -> bool:
    """Whether an address allow-list keeps ``user_id`` out from where this request comes."""
    with read_transaction(instance().engine) as connection:
        identity = accounts.load_identity(connection, user_id)
    return identity is not None and address_checks.refuses(identity)


def _signed_in(user: accounts.User, target: str) -> Response:
    """A language chosen on the sign-in page (kept by :func:`sign_in`) wins and becomes the
    user's; otherwise the one they chose before opens."""
    chosen = session.get("language")
    if chosen in LANGUAGES and chosen != user.language:
        with write_transaction(instance().engine) as connection:
            accounts.set_language(connection, user.id, chosen)
    elif user.language:
        session["language"] = user.language
    return redirect(target)


def _check_code(passed: dict[str, object], code: str) -> str:
    """An error message, or ``""`` when ``code`` is right; failures count towards the same
    throttle as wrong passwords, so codes cannot be guessed quickly either."""
    now = datetime.now(UTC)
    username, client = str(passed["name"]), _client()
    with write_transaction(instance().engine) as connection:
        wait = _wait(connection, username, client, now)
        if wait:
            return wait
        if second_factor.verify(connection, int(str(passed["user"])), code, now):
            return ""
        accounts.record_login_failure(connection, username, client, now)
    return str(_("That code is not right, or was used already."))


def sign_in(user_id: int, *, remember: bool) -> bool:
    """Start a new server-side session for ``user_id`` in this browser, in place of any
    it had; ``False`` if the user cannot sign in (gone or inactive)."""
    with write_transaction(instance().engine) as connection:
        token = sessions.start_session(
            connection,
            user_id,
            remember=remember,
            user_agent=request.user_agent.string,
            address=_client(),
        )
        found = accounts.load_session_identity(connection, token)
    if found is None or not found.identity.user.is_active:
        return False
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    login_user(WebUser(found.identity, token, found.session.id), remember=remember)
    return True


def stay_signed_in() -> None:
    """After a change to the signed-in user's own account that ended their sessions (a new
    password, new roles), sign this browser in again; other browsers stay signed out."""
    me = web_user()
    with read_transaction(instance().engine) as connection:
        alive = sessions.session_exists(connection, me.session_id)
    if not alive:
        sign_in(me.user.id, remember=False)


@blueprint.route("/logout", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def logout() -> Response:
    """Sign out: the session ends on the server, so no copy of its cookies works again."""
    with write_transaction(instance().engine) as connection:
        sessions.end_session_by_token(connection, web_user().token)
    logout_user()
    session.clear()
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))


@blueprint.route("/language/<code>", methods=["POST"])
def language(code: str) -> Response:
    """Switch the interface language; a signed-in user keeps it for their next sign-in."""
    if code in LANGUAGES:
        session["language"] = code
        if current_user.is_authenticated:
            with write_transaction(instance().engine) as connection:
                accounts.set_language(connection, web_user().user.id, code)
    return redirect(_safe_next(request.form.get("next")))


def _check(username: str, password: str) -> tuple[accounts.User | None, str]:
    now = datetime.now(UTC)
    client = _client()
    with write_transaction(instance().engine) as connection:
        wait = _wait(connection, username, client, now)
        if wait:
            return None, wait
        user = accounts.authenticate(connection, username, password)
        if user is None:
            accounts.record_login_failure(connection, username, client, now)
            return None, _("Wrong username or password.")
        accounts.clear_login_failures(connection, username, client)
        return user, ""


def _wait(connection: Connection, username: str, client: str, now: datetime) -> str:
    """Why ``client`` must wait before trying ``username`` again, or ``""`` if it may try:
    too many failures for this username, or too many from this client for any username."""
    blocked = accounts.login_blocked_until(connection, username, client, now)
    if blocked is not None:
        return str(
            _(
                "Too many failed attempts. Try again in %(minutes)d minutes.",
                minutes=_minutes(blocked, now),
            )
        )
    blocked = accounts.address_blocked_until(connection, client, now)
    if blocked is not None:
        return str(
            _(
                "Too many failed attempts from your network. Try again in %(minutes)d minutes.",
                minutes=_minutes(blocked, now),
            )
        )
    return ""


def _minutes(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def _client() -> str:
    """Where a request comes from, as far as throttling tells clients apart."""
    return address_checks.client()


def _safe_next(target: str | None) -> str:
    """Only a path on this site; anything else (another host, a scheme) goes home."""
    return local_address(target) or url_for("workbench.home")
