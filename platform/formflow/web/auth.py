"""Signing in and out, with throttling after repeated failures."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from formflow import accounts
from formflow.storage.database import read_transaction, write_transaction
from formflow.web.context import WebUser, instance
from formflow.web.validators import storable_text

blueprint = Blueprint("auth", __name__)


class LoginForm(FlaskForm):  # type: ignore[misc]
    username = StringField("username", validators=[DataRequired(), Length(max=150), storable_text])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("remember")


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        user, problem = _check(form.username.data.strip(), form.password.data)
        identity = _identity(user) if user is not None else None
        if user is not None and identity is not None:
            session.clear()
            login_user(WebUser(identity), remember=form.remember.data)
            if user.language:
                session["language"] = user.language
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(problem)
    return render_template("auth/login.html", form=form)


def _identity(user: accounts.User) -> accounts.Identity | None:
    with read_transaction(instance().engine) as connection:
        return accounts.load_identity(connection, user.id)


@blueprint.route("/logout", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def logout() -> Response:
    logout_user()
    session.clear()
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))


@blueprint.route("/language/<code>", methods=["POST"])
def language(code: str) -> Response:
    if code in ("zh", "en"):
        session["language"] = code
    return redirect(_safe_next(request.form.get("next")))


def _check(username: str, password: str) -> tuple[accounts.User | None, str]:
    now = datetime.now(UTC)
    with write_transaction(instance().engine) as connection:
        blocked = accounts.login_blocked_until(connection, username, now)
        if blocked is not None:
            minutes = max(1, round((blocked - now).total_seconds() / 60))
            return None, _(
                "Too many failed attempts. Try again in %(minutes)d minutes.", minutes=minutes
            )
        user = accounts.authenticate(connection, username, password)
        if user is None:
            accounts.record_login_failure(connection, username, request.remote_addr or "", now)
            return None, _("Wrong username or password.")
        accounts.clear_login_failures(connection, username)
        return user, ""


def _safe_next(target: str | None) -> str:
    """Only a path on this site; anything else (another host, a scheme) goes home."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
        ):
            return target
    return url_for("workbench.home")
