"""The upgrade page: the report of a new release merged into the draft, answered issue by issue.

An admin starts the upgrade here by uploading the release as a zip (the export's format,
refused as an import is when unsafe or damaged), or on the server with ``formflow upgrade APP
--from FOLDER``; an imported zip lands here too. The page lists, at once, what merged by
itself and every conflict, orphan and decision, each with its buttons. Every
answer is written to the draft by :meth:`~formflow.designer.Designer.resolve_upgrade`; the
live app runs unchanged until the draft is published from the publish page.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from formflow.designer.merge import CONFLICT, DECISION, ORPHAN
from formflow.designer.upgrades import Answer, UpgradeError, placements, shown
from formflow.errors import N_
from formflow.web import context
from formflow.web.designer_pages import _draft, blueprint, designer, merged_upload

KINDS = (CONFLICT, ORPHAN, DECISION)


@blueprint.get("/<app_key>/upgrade")
def upgrade_page(app_key: str) -> Any:
    """The upgrade being resolved in the app's draft, or a word on how to start one."""
    service = designer()
    draft = _draft(service, app_key)
    upgrade = service.upgrade_state(app_key)
    files = draft.texts()
    return render_template(
        "designer/upgrade.html",
        admin_tab="designer",
        app_key=app_key,
        upgrade=upgrade,
        kinds=KINDS,
        shown=shown,
        placements=lambda issue: placements(files, issue),
    )


@blueprint.post("/<app_key>/upgrade")
def resolve_upgrade(app_key: str) -> Response:
    """Answer one issue (``issue``, ``choice`` and, to place an orphan, ``after``)."""
    service = designer()
    _draft(service, app_key)
    posted = request.form
    answer = Answer(posted.get("issue", ""), posted.get("choice", ""), posted.get("after") or None)
    try:
        service.resolve_upgrade(app_key, answer, context.user().id)
    except UpgradeError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Your answer is in the draft."), "success")
    return redirect(url_for(".upgrade_page", app_key=app_key))


@blueprint.post("/<app_key>/upgrade/release")
def upload_release(app_key: str) -> Response:
    """Merge an uploaded release (``release``, a zip) into the draft; the report follows."""
    service = designer()
    _draft(service, app_key)
    if merged_upload(
        app_key,
        "release",
        service.upgrade_bundle,
        _("Choose a zip file to upgrade from."),
        N_("The release was not merged: %(reason)s"),
    ):
        flash(
            _("The release is merged into the draft: answer its issues below, then publish."),
            "success",
        )
    return redirect(url_for(".upgrade_page", app_key=app_key))
