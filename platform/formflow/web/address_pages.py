"""The address allow-lists page: which networks a user, or a role's holders, may sign in from.

An administrator cannot save a rule that would keep themselves out from where they are
now: the lock-out would be immediate and only the database could undo it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField, TextAreaField
from wtforms.validators import InputRequired, Length

from formflow import accounts
from formflow.accounts import addresses
from formflow.storage.database import read_transaction, write_transaction
from formflow.web import address_checks, context
from formflow.web.admin import for_administrators
from formflow.web.i18n import text
from formflow.web.ids import parse_id
from formflow.web.validators import storable_text

blueprint = Blueprint("addresses", __name__, url_prefix="/admin/addresses")


class RuleForm(FlaskForm):  # type: ignore[misc]
    whom = SelectField(_l("For"), validators=[InputRequired()])
    networks = TextAreaField(
        _l("Networks"),
        validators=[
            InputRequired(_l("Give at least one network.")),
            Length(max=4000),
            storable_text,
        ],
    )


@dataclass(frozen=True)
class RuleView:
    id: int
    whom: str
    networks: str


for_administrators(blueprint, _l("Only administrators may manage address allow-lists."))


@blueprint.route("/", methods=["GET", "POST"])
def index() -> str | Response:
    instance = context.instance()
    with read_transaction(instance.engine) as connection:
        rules = addresses.list_rules(connection)
        people = accounts.list_users(connection)
    roles = {
        f"role:{app.key}:{role.key}": f"{text(app.label)} · {text(role.label)}"
        for app in (instance.app(key) for key in instance.app_keys)
        for role in app.roles
    }
    users = {f"user:{user.id}": f"{user.display_name} ({user.username})" for user in people}
    form = RuleForm()
    form.whom.choices = [*roles.items(), *users.items()]
    if form.validate_on_submit():
        problem = _save(form.whom.data, form.networks.data)
        if problem is None:
            flash(_("The allow-list was saved."))
            return redirect(url_for("addresses.index"))
        form.networks.errors.append(problem)
    shown = [
        RuleView(
            rule.id,
            users.get(f"user:{rule.user_id}", "")
            if rule.user_id is not None
            else roles.get(
                f"role:{rule.app_key}:{rule.role_key}", f"{rule.app_key}:{rule.role_key}"
            ),
            " ".join(str(network) for network in rule.networks),
        )
        for rule in rules
    ]
    return render_template(
        "admin/addresses.html", rules=shown, form=form, address=address_checks.client()
    )


def _save(whom: str, networks: str) -> str | None:
    """Add the rule; a message instead if it is not valid or would lock the admin out."""
    kind, _sep, key = whom.partition(":")
    user_id = parse_id(key) if kind == "user" else None
    app_key, _sep, role_key = key.partition(":")
    role = (app_key, role_key) if kind == "role" and role_key else None
    try:
        parsed = addresses.parse_networks(networks)
    except addresses.InvalidNetwork as error:
        return str(error)
    me = context.web_user().identity
    candidate = addresses.AddressRule(
        0, parsed, user_id=user_id, app_key=app_key, role_key=role_key
    )
    if user_id is None and role is None:
        return str(_("Choose whom the allow-list is for."))
    rules = [*address_checks.rules().current(), candidate]
    if not addresses.allows(rules, me.user.id, me.roles, address_checks.client()):
        return str(
            _(
                "This would keep you out: you are at %(address)s. Add it, or a network holding it.",
                address=address_checks.client(),
            )
        )
    with write_transaction(context.instance().engine) as connection:
        addresses.add_rule(connection, networks, user_id=user_id, role=role)
    address_checks.rules().forget()
    return None


@blueprint.post("/<int:rule_id>/delete")
def delete(rule_id: int) -> Response:
    with write_transaction(context.instance().engine) as connection:
        removed = addresses.remove_rule(connection, rule_id)
    address_checks.rules().forget()
    flash(_("The allow-list was removed.") if removed else _("No such allow-list."))
    return redirect(url_for("addresses.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
