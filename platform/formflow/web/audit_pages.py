"""The audit log's page: administrators search it and take it away as CSV.

Every request says once who acts and from where (:func:`formflow.audit.acting`), so the
entries the account functions and the record service write carry the address and the
channel without being told. The page only reads: no route here, or anywhere in the app,
changes or deletes an entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, g, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from formflow import accounts, audit
from formflow.audit import Action, AuditQuery
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.text import storable
from formflow.web import address_checks, context
from formflow.web.admin import for_administrators
from formflow.web.ids import parse_id

blueprint = Blueprint("audit", __name__, url_prefix="/admin/audit")

FAMILIES = ("sign_in", "sign_in.failed", "sign_out", "record.", "approval.", "definition.")
"""Actions offered in the filter besides each single action."""


for_administrators(blueprint, _l("Only administrators may read the audit log."))


@dataclass(frozen=True)
class Filters:
    """The search as the page's form gives it, and the query it becomes."""

    username: str = ""
    since: str = ""
    until: str = ""
    action: str = ""
    app_key: str = ""
    form_key: str = ""
    record_id: str = ""

    @classmethod
    def from_request(cls) -> Filters:
        args = request.args
        return cls(
            username=args.get("user", "").strip()[:150],
            since=args.get("since", "").strip()[:10],
            until=args.get("until", "").strip()[:10],
            action=args.get("action", "").strip()[:40],
            app_key=args.get("app", "").strip()[:63],
            form_key=args.get("form", "").strip()[:63],
            record_id=args.get("record", "").strip()[:20],
        )

    def query(self, zone: ZoneInfo) -> tuple[AuditQuery | None, list[str]]:
        """The query, or ``None`` and what is wrong with the search."""
        problems: list[str] = []
        user_id = None
        texts = (self.username, self.action, self.app_key, self.form_key)
        if not all(storable(text) for text in texts):
            return None, [_("Remove the characters that cannot be saved (such as NUL).")]
        if self.username:
            with read_transaction(context.instance().engine) as connection:
                found = accounts.find_user(connection, self.username)
            if found is None:
                problems.append(_("No user is called %(name)s.", name=self.username))
            else:
                user_id = found.id
        since, until = _day(self.since, problems), _day(self.until, problems)
        record_id = None
        if self.record_id:
            record_id = parse_id(self.record_id)
            if record_id is None:
                problems.append(_("A record is given by its number."))
        if problems:
            return None, problems
        return AuditQuery(
            user_id=user_id,
            since=datetime.combine(since, time.min, zone) if since else None,
            until=datetime.combine(until + timedelta(days=1), time.min, zone) if until else None,
            action=self.action or None,
            app_key=self.app_key or None,
            form_key=self.form_key or None,
            record_id=record_id,
        ), []

    def args(self) -> dict[str, str]:
        """The search as query-string arguments, for the next page and the CSV link."""
        pairs = {
            "user": self.username,
            "since": self.since,
            "until": self.until,
            "action": self.action,
            "app": self.app_key,
            "form": self.form_key,
            "record": self.record_id,
        }
        return {key: value for key, value in pairs.items() if value}


def _day(text: str, problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(_("Give days as YYYY-MM-DD."))
        return None


@blueprint.get("")
def index() -> str:
    filters = Filters.from_request()
    zone = context.instance().settings.timezone
    query, problems = filters.query(zone)
    page = None
    if query is not None:
        before = request.args.get("before", "")
        with read_transaction(context.instance().engine) as connection:
            page = audit.search(connection, query, before=parse_id(before))
    return render_template(
        "admin/audit.html",
        filters=filters,
        problems=problems,
        page=page,
        zone=zone,
        actions=sorted({*FAMILIES, *(action.value for action in Action)}),
    )


@blueprint.get("/export.csv")
def export() -> Response | str:
    """Every matching entry, newest first, streamed; the export is itself logged."""
    filters = Filters.from_request()
    query, _problems = filters.query(context.instance().settings.timezone)
    if query is None:
        return index()
    engine = context.instance().engine
    with write_transaction(engine) as connection:
        audit.log(
            connection,
            Action.EXPORT,
            user_id=context.user().id,
            detail={"what": "audit", "filters": filters.args()},
        )

    def lines() -> Iterator[str]:
        with engine.connect() as connection, connection.begin():
            yield from audit.csv_lines(audit.matching(connection, query))

    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


def _who() -> int | None:
    """The user a request acts for: signed in by a session, or by an API token."""
    if current_user.is_authenticated:
        return int(current_user.user.id)
    identity = g.get("api_identity")
    return int(identity.user.id) if identity is not None else None


def _say_who_acts() -> None:
    stack = ExitStack()
    stack.enter_context(
        audit.acting(
            address=address_checks.client(),
            channel="api" if request.blueprint == "api" else "web",
            who=_who,
        )
    )
    g.formflow_acting = stack


def _done(_error: BaseException | None) -> None:
    stack: ExitStack | None = g.pop("formflow_acting", None)
    if stack is not None:
        stack.close()


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, _say_who_acts)
    app.teardown_request(_done)
    app.register_blueprint(blueprint)
