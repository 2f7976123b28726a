"""The blast pages: pick recipients with a filter, write and preview the message, send it,
and watch each recipient's status arrive.

Sending runs as the plugin's background job (``sms.send_blast``), enqueued in the same
unit of work as the blast, so the page returns at once and a restart resumes the blast.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from formflow import saved_views
from formflow.errors import PermissionDenied
from formflow.plugin_kit import current_instance, require, require_admin, settings_of
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.records.unit import unit_of_work
from formflow_sms.blasts import (
    EMAIL,
    QUEUED,
    SENDING,
    SMS,
    BlastError,
    Blasts,
    blasts,
    messages,
)

PLUGIN = "sms"
BOUNCES_SHOWN = 200
"""The bounce page shows the newest addresses up to this many; a search finds the rest."""


def parse_filter(text: str) -> dict[str, Any]:
    """``field = value`` lines, all of which a record must match, as a list filter."""
    conditions = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise BlastError(_("Write each condition as field = value."))
        conditions.append({"field": key.strip(), "op": "eq", "value": value.strip()})
    return {"and": conditions} if conditions else {}


def list_filter(records: RecordService, form_key: str, args: Mapping[str, str]) -> dict[str, Any]:
    """The filter a list page's query (its URL's arguments, or a saved view's) shows."""
    from formflow.web.listing import Filters, ListState

    form = records.app.form(form_key)
    state = ListState.from_args(form, records.schema, args)
    spec = Filters(form, records.schema, records.timezone).spec(state)
    return dict(spec) if spec else {}


def both(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """Records matching both filters (either may be empty: no condition)."""
    parts = [dict(part) for part in (first, second) if part]
    if len(parts) == 2:
        return {"and": parts}
    return parts[0] if parts else {}


def allowed(actor: Actor, values: Mapping[str, str]) -> bool:
    """Whether the actor's roles may send blasts (any reader when no roles are set)."""
    roles = {role.strip() for role in values.get("roles", "").split(",") if role.strip()}
    return actor.is_admin or not roles or bool(roles & actor.roles)


def attach(blueprint: Blueprint) -> None:
    """Add the pages to the plugin's blueprint."""

    @blueprint.route("/<app_key>/<form_key>/new", methods=["GET", "POST"])
    def new(app_key: str, form_key: str) -> Any:
        actor, form = require(app_key, form_key, "read")
        instance = current_instance()
        values = settings_of(PLUGIN, instance)
        if not allowed(actor, values):
            raise PermissionDenied(_("Your roles may not send SMS blasts."))
        channel = EMAIL if request.args.get("channel") == EMAIL else SMS
        if channel == EMAIL and instance.settings.smtp is None:
            raise PermissionDenied(_("E-mail blasts need an SMTP server; none is set up."))
        filter_text = request.form.get("filter", "")
        list_args = {
            key: value
            for key, value in (request.form if request.method == "POST" else request.args).items()
            if key not in ("filter", "template", "subject", "do", "csrf_token", "view", "channel")
        }
        view_id = request.form.get("view", "")
        template = request.form.get("template", "")
        subject = request.form.get("subject", "")
        previews, problem = [], None
        opt_out = (
            values.get("email_opt_out_field") or "email_opt_out"
            if channel == EMAIL
            else values.get("opt_out_field") or "sms_opt_out"
        )
        blasts_service = Blasts(instance.engine, opt_out_field=opt_out)
        records = instance.records(app_key)
        with instance.engine.connect() as connection:
            views = (
                saved_views.list_views(
                    connection, actor.user_id, records.schema.table(form_key).name
                )
                if actor.user_id is not None
                else []
            )
        arguments = {
            "phone_field": (
                values.get("email_field") or "email"
                if channel == EMAIL
                else values.get("phone_field") or "mobile"
            ),
            "template": template,
            "signature": "" if channel == EMAIL else values.get("signature", ""),
        }
        if request.method == "POST":
            try:
                picked = next((view for view in views if str(view.id) == view_id), None)
                shown = list_filter(records, form_key, picked.params if picked else list_args)
                chosen = both(shown, parse_filter(filter_text))
                if channel == EMAIL and not subject.strip():
                    raise BlastError(_("Write the e-mail's subject."))
                if request.form.get("do") == "send":
                    from formflow_sms import send_later

                    with unit_of_work(instance.engine):
                        blast_id = blasts_service.create(
                            records,
                            actor,
                            app_key,
                            form_key,
                            chosen,
                            provider=EMAIL
                            if channel == EMAIL
                            else values.get("provider") or "outbox",
                            channel=channel,
                            subject=subject if channel == EMAIL else None,
                            link_base=url_for("sms.unsubscribe", token="-", _external=True)[:-1]
                            if channel == EMAIL
                            else None,
                            **arguments,
                        )
                        send_later(blast_id, instance)
                    return redirect(url_for("sms.blast", blast_id=blast_id))
                previews = blasts_service.preview(
                    records,
                    actor,
                    form_key,
                    chosen,
                    phone_field=arguments["phone_field"],
                    template=template,
                    signature=arguments["signature"],
                    channel=channel,
                    subject=subject,
                )
            except BlastError as exc:
                problem = str(exc)
        return render_template(
            "sms/new.html",
            app_key=app_key,
            form=form,
            filter_text=filter_text,
            list_args=list_args,
            views=views,
            view_id=view_id,
            template=template,
            previews=previews,
            problem=problem,
            channel=channel,
            subject=subject,
        )

    @blueprint.get("/")
    def index() -> Any:
        instance = current_instance()
        with instance.engine.connect() as connection:
            rows = connection.execute(blasts.select().order_by(blasts.c.id.desc()).limit(100)).all()
        service = Blasts(instance.engine)
        shown = []
        for row in rows:
            try:
                require(row.app_key, row.form_key, "read")
            except PermissionDenied:
                continue
            shown.append((row, service.summary(int(row.id))))
        return render_template("sms/index.html", blasts=shown)

    @blueprint.get("/blasts/<int:blast_id>")
    def blast(blast_id: int) -> Any:
        instance = current_instance()
        with instance.engine.connect() as connection:
            row = connection.execute(blasts.select().where(blasts.c.id == blast_id)).first()
            if row is None:
                abort(404)
            require(row.app_key, row.form_key, "read")
            recipients = connection.execute(
                messages.select().where(messages.c.blast_id == blast_id).order_by(messages.c.id)
            ).all()
        summary = Blasts(instance.engine).summary(blast_id)
        return render_template(
            "sms/blast.html",
            row=row,
            summary=summary,
            recipients=recipients,
            running=summary[QUEUED] + summary[SENDING] > 0 and not summary.cancelled,
        )

    @blueprint.post("/blasts/<int:blast_id>/cancel")
    def cancel(blast_id: int) -> Response:
        instance = current_instance()
        with instance.engine.connect() as connection:
            row = connection.execute(blasts.select().where(blasts.c.id == blast_id)).first()
        if row is None:
            abort(404)
        actor, _form = require(row.app_key, row.form_key, "read")
        if not allowed(actor, settings_of(PLUGIN, instance)):
            raise PermissionDenied(_("Your roles may not send SMS blasts."))
        Blasts(instance.engine).cancel(blast_id)
        return redirect(url_for("sms.blast", blast_id=blast_id))  # type: ignore[return-value]

    @blueprint.get("/bounces")
    def bounces() -> Any:
        """The e-mail bounce list, newest first, searchable by address (administrators
        only: it spans every app's records)."""
        require_admin()
        search = request.args.get("q", "")[:200]
        rows = Blasts(current_instance().engine).bounced_addresses(search, limit=BOUNCES_SHOWN + 1)
        return render_template(
            "sms/bounces.html",
            rows=rows[:BOUNCES_SHOWN],
            more=len(rows) > BOUNCES_SHOWN,
            search=search,
        )

    @blueprint.post("/bounces/forget")
    def forget_bounce() -> Response:
        """Let blasts reach an address again once its mailbox works."""
        require_admin()
        address = request.form.get("address", "")[:320]
        if Blasts(current_instance().engine).forget_bounce(address):
            flash(
                _("%(address)s is off the bounce list: blasts send to it again.", address=address),
                "success",
            )
        else:
            flash(_("%(address)s is not on the bounce list.", address=address), "error")
        return redirect(url_for("sms.bounces", q=request.form.get("q", "")))  # type: ignore[return-value]
