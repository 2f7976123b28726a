"""The automations page: each app's rules, and their run log per rule and per record.

Administrators read what each rule did, when, to which record, how long it took and why a
run failed or was stopped; :mod:`formflow.automations.log` reads the log.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, render_template, request
from flask_babel import lazy_gettext as _l

from formflow.automations.log import list_runs
from formflow.errors import FormflowError
from formflow.storage.database import read_transaction
from formflow.web import context
from formflow.web.admin import for_administrators

blueprint = Blueprint("automations", __name__, url_prefix="/admin/automations")

SHOWN = 200


for_administrators(blueprint, _l("Only administrators may see automations."))


@blueprint.get("/")
def runs() -> str:
    """The rules of one app (``?app=``), and its runs: all of them, one rule's
    (``?rule=``) or one record's (``?form=&record=``)."""
    instance = context.instance()
    apps = list(instance.app_keys)
    app_key = request.args.get("app") or (apps[0] if apps else "")
    if app_key and app_key not in apps:
        abort(404)
    try:
        app = instance.app(app_key) if app_key else None
    except FormflowError:
        abort(404)
    rule = request.args.get("rule") or None
    form_key = request.args.get("form") or None
    record_id = request.args.get("record", type=int)
    with read_transaction(instance.engine) as connection:
        found = list_runs(
            connection,
            app_key,
            automation_key=rule,
            form_key=form_key,
            record_id=record_id,
            limit=SHOWN,
        )
    return render_template(
        "admin/automations.html",
        apps=apps,
        app=app,
        app_key=app_key,
        rules=sorted(app.automations.values(), key=lambda r: r.key) if app else [],
        runs=found,
        rule=rule,
        form_key=form_key,
        record_id=record_id,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
