"""The dead letters page: background deliveries given up after their last retry.

Administrators read what failed, on which record and why, and put a delivery back on the
queue once its cause is fixed; :mod:`formflow.jobs.dead_letters` does the work. Plugins'
jobs that failed after their last retry are listed below them, to be run again
(:mod:`formflow.jobs.plugin_jobs`).
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from formflow.jobs.dead_letters import (
    UnknownDeadLetterError,
    count_dead_letters,
    list_dead_letters,
    retry_dead_letter,
)
from formflow.jobs.plugin_jobs import UnknownPluginJobError
from formflow.storage.database import read_transaction, write_transaction
from formflow.web import context
from formflow.web.admin import for_administrators

blueprint = Blueprint("jobs", __name__, url_prefix="/admin/jobs")

SHOWN = 200


for_administrators(blueprint, _l("Only administrators may see background jobs."))


@blueprint.get("/dead")
def dead_letters() -> str:
    instance = context.instance()
    with read_transaction(instance.engine) as connection:
        shown = {
            "letters": list_dead_letters(connection, limit=SHOWN),
            "total": count_dead_letters(connection),
            "failed_jobs": instance.plugin_jobs.failed(connection, limit=SHOWN),
            "failed_total": instance.plugin_jobs.count_failed(connection),
        }
    return render_template("admin/dead_letters.html", **shown)


@blueprint.post("/dead/<int:letter_id>/retry")
def retry(letter_id: int) -> Response:
    """Owe the delivery again and ring the queue (CSRFProtect has checked the POST)."""
    instance = context.instance()
    try:
        with write_transaction(instance.engine) as connection:
            retry_dead_letter(connection, letter_id)
    except UnknownDeadLetterError:
        flash(_("That delivery is no longer in the dead letters."))
    else:
        instance.relay.committed()
        flash(_("The delivery is queued again."))
    return redirect(url_for("jobs.dead_letters"))


@blueprint.post("/plugin/<int:job_id>/rerun")
def rerun(job_id: int) -> Response:
    """Queue a failed plugin job again (CSRFProtect has checked the POST)."""
    try:
        context.instance().plugin_jobs.rerun(job_id)
    except UnknownPluginJobError:
        flash(_("That job is no longer among the failed jobs."))
    else:
        flash(_("The job is queued again."))
    return redirect(url_for("jobs.dead_letters"))


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
