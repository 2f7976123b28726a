"""Plugins in the web app: their pages and templates, their buttons, and their settings page.

A plugin's blueprints are mounted under ``/plugins/<name>`` and get the protections every
page has: sign-in (unless a view is marked :func:`formflow.plugin_kit.public`), CSRF on
every form (Flask-WTF's protection covers the whole app) and the error pages. Templates are
looked up in the instance's folder, then the plugins' folders, then Formflow's own; the
originals stay reachable as ``formflow/<name>`` so an override can extend what it replaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, abort, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader

from formflow.config import Settings
from formflow.definitions.model import Form
from formflow.plugin_kit import Button, is_public
from formflow.web import context
from formflow.web.admin import for_administrators
from formflow.web.extensions import login_manager

PLUGIN_PREFIX = "/plugins"

admin_blueprint = Blueprint("plugin_admin", __name__, url_prefix="/admin/plugins")


def template_loader(settings: Settings, plugin_dirs: list[Any]) -> BaseLoader:
    """The instance's templates, then the plugins', then Formflow's (also as ``formflow/``)."""
    own = PackageLoader("formflow")
    return ChoiceLoader(
        [
            FileSystemLoader(settings.instance / "templates"),
            *(FileSystemLoader(folder) for folder in plugin_dirs),
            own,
            PrefixLoader({"formflow": own}),
        ]
    )


def init_app(app: Flask) -> None:
    instance = context.instance()
    plugins = instance.plugins
    names: set[str] = set()
    for _plugin, blueprint in plugins.blueprints:
        app.register_blueprint(blueprint, url_prefix=f"{PLUGIN_PREFIX}/{blueprint.name}")
        names.add(blueprint.name)

    @app.before_request
    def _plugin_pages_need_sign_in() -> Any:
        owner = (request.blueprint or "").split(".", 1)[0]
        if owner not in names or current_user.is_authenticated:
            return None
        view = current_app.view_functions.get(request.endpoint or "")
        return None if is_public(view) else login_manager.unauthorized()

    app.jinja_env.globals["plugin_record_buttons"] = _record_buttons
    app.jinja_env.globals["plugin_list_buttons"] = _list_buttons
    app.register_blueprint(admin_blueprint)


def _record_buttons(app_key: str, form: Form, record: Mapping[str, Any]) -> list[Button]:
    plugins = context.instance().plugins
    return plugins.record_buttons(app_key, form, record, context.actor(app_key))


def _list_buttons(app_key: str, form: Form) -> list[Button]:
    return context.instance().plugins.list_buttons(app_key, form, context.actor(app_key))


for_administrators(admin_blueprint, _l("Only administrators may manage plugins."))


@admin_blueprint.get("/")
def index() -> str:
    """Every plugin: installed or enabled, its version, its hooks, a link to its settings."""
    plugins = context.instance().plugins
    return render_template(
        "admin/plugins.html", plugins=plugins.describe(), with_settings=set(plugins.settings)
    )


@admin_blueprint.route("/<plugin>/settings", methods=["GET", "POST"])
def settings(plugin: str) -> str:
    """A plugin's settings; secrets are never put back into the page."""
    store = context.instance().plugin_settings
    if plugin not in store.specs:
        abort(404)
    declared = store.declared(plugin)
    saved = False
    if request.method == "POST":
        store.save(plugin, {s.key: request.form.get(s.key, "").strip() for s in declared})
        saved = True
    values = store.values(plugin)
    shown = {s.key: ("" if s.secret else values[s.key]) for s in declared}
    return render_template(
        "admin/plugin_settings.html",
        plugin=plugin,
        declared=declared,
        values=shown,
        secrets_set=store.secrets_set(plugin),
        saved=saved,
    )
