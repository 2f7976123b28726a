"""Pages and the API refuse people an address allow-list keeps out.

The rules live in :mod:`formflow.accounts.addresses`; this module reads the client's address
off the request (believing ``X-Forwarded-For`` only from trusted proxies) and holds every
request, signed in by a session or a token, to them.
"""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from formflow import accounts
from formflow.accounts.addresses import AddressRules, allows, client_address
from formflow.lifecycle.instance import Instance

RULES = "formflow.address_rules"


def client() -> str:
    """The address the request comes from, as far as the instance can tell."""
    instance: Instance = current_app.extensions["formflow"]
    return client_address(
        request.remote_addr or "",
        request.headers.get("X-Forwarded-For"),
        instance.settings.trusted_proxies,
    )


def rules() -> AddressRules:
    found: AddressRules = current_app.extensions[RULES]
    return found


def refuses(identity: accounts.Identity) -> bool:
    """Whether ``identity`` may not use the instance from where this request comes."""
    return not allows(rules().current(), identity.user.id, identity.roles, client())


def refusal() -> str:
    return str(_("You may not use Formflow from this address (%(address)s).", address=client()))


def _hold_pages_to_the_rules() -> tuple[str, int] | None:
    if request.blueprint == "api" or not current_user.is_authenticated:
        return None
    if refuses(current_user.identity):
        return render_template("error.html", status=403, message=refusal()), 403
    return None


def init_app(app: Flask) -> None:
    instance: Instance = app.extensions["formflow"]
    app.extensions[RULES] = AddressRules(instance.engine, lambda: instance.version_check_seconds)
    app.before_request(_hold_pages_to_the_rules)
