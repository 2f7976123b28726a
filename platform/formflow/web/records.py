"""Generated pages for every form: list, detail, create, edit, delete and restore.

Every page acts through the record service as the signed-in user, so permissions and
scopes apply to everything a page shows or accepts: rows, counts, link titles, linked
records, search-as-you-type results, history, files. Views turn requests into service
calls and results into templates; they never build SQL.

A list page costs a fixed number of statements whatever the data size: one page of rows
and a capped count (keyset paging), the names of people and departments, one statement
per linked form for the titles of the links it shows, and the user's saved views.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext, pgettext
from flask_login import login_required
from werkzeug.wrappers import Response

from formflow import saved_views
from formflow.definitions.model import Field, Form, Operation
from formflow.errors import QueryError, RecordInUse, ValidationFailed
from formflow.expressions import ExpressionError
from formflow.notifications import follows
from formflow.records import Page, Query, Record
from formflow.storage.database import read_transaction, write_transaction
from formflow.web import action_pages, approvals, cards, context, editing, uploads
from formflow.web.display import (
    EMPTY,
    Displayer,
    Shown,
    cell_columns,
    column_label,
    list_columns,
)
from formflow.web.formbuilder import (
    LABEL_SUFFIX,
    Pickers,
    editable,
    form_class,
    place_problems,
    problem_text,
    sent_row_numbers,
    submitted,
)
from formflow.web.i18n import error_message, text, translate
from formflow.web.ids import parse_id
from formflow.web.listing import (
    COLUMNS,
    Filters,
    ListState,
    controls,
    filter_keys,
    link_filter_ids,
    sortable_columns,
)
from formflow.web.targets import (
    Target,
    displayer,
    link_ids,
    load_names,
    merge_ids,
    names_needed,
    record_urls,
    refuse,
    search_records,
    target,
    titles_for,
)
from formflow.workflows import wording

blueprint = Blueprint("records", __name__)

URL_SAFE = "!$'()*,/:;?@"
"""What Werkzeug leaves unescaped in a query string (the WHATWG URL standard's set)."""

RELATED = 10


def _is_fragment(target_id: str) -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Target") == target_id
        and not request.headers.get("HX-History-Restore-Request")
    )


def _varies(response: Response) -> Response:
    response.vary.update(("HX-Request", "HX-Target"))
    return response


# the list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnView:
    key: str
    label: str
    sort_href: str | None
    sorted: str  # "", "asc" or "desc"
    ascending_href: str | None = None
    """The list sorted by this column, one way and the other: a phone, which hides the
    table's headers, offers these instead."""
    descending_href: str | None = None


@dataclass(frozen=True)
class RowView:
    record: Record
    href: str
    cells: list[Shown]


@blueprint.route("/<app_key>/<form_key>/")
@login_required  # type: ignore[untyped-decorator]
def index(app_key: str, form_key: str) -> ResponseReturnValue:
    t = target(app_key, form_key)
    form, schema = t.form, t.service.schema
    state = ListState.from_args(form, schema, request.args)
    filters = Filters(form, schema, t.service.timezone)
    spec = filters.spec(state)
    problems = list(filters.problems)
    columns = [key for key in state.columns or list_columns(form) if key not in t.hidden]
    reads = list(dict.fromkeys([*columns, *cards.card_keys(form, t.hidden)]))
    query = Query(
        filter=spec,
        search=state.search or None,
        sort=state.sort_keys(),
        limit=form.list_view.page_size,
        cursor=state.cursor or None,
        fields=(*reads, *_highlight_reads(t, reads)),  # a wide form's list reads what it shows
    )
    try:
        page = t.service.find(t.actor, form.key, query)
    except QueryError as error:
        problems.append(_("This list could not be shown: %(reason)s", reason=error_message(error)))
        page = Page([], 0, False, None)
    users, departments = names_needed(form, [*reads, *filter_keys(form, state)])
    directory = load_names(users, departments)
    held = link_ids(form, page.rows, reads)
    titles = titles_for(t, link_filter_ids(form, state), directory, held=held)
    shower = displayer(t, directory, titles)
    record_url = record_urls(t.app_key)
    with read_transaction(context.instance().engine) as connection:
        views = saved_views.list_views(connection, context.user().id, schema.table(form.key).name)
    values = {
        "t": t,
        "form": form,
        "state": state,
        "columns": _column_views(t, state, columns),
        "column_choices": _column_choices(t, columns),
        "default_columns_href": _list_url(
            t, {k: v for k, v in state.params().items() if k != COLUMNS}
        )
        if state.columns
        else None,
        "link_column": columns.index(form.title_field) if form.title_field in columns else 0,
        "rows": [
            _row_view(shower, form, columns, record, record_url(form.key, record["id"]))
            for record in page.rows
        ],
        "cards": cards.card_views(shower, form, page.rows, record_url, t.hidden),
        "highlighted": _highlighted(t, page.rows),
        "page": page,
        "total": _total(page),
        "next_href": _list_url(t, state.params(cursor=page.next_cursor))
        if page.next_cursor
        else None,
        "first_href": _list_url(t, state.params()) if state.cursor else None,
        "problems": problems,
        "controls": controls(
            form,
            state,
            users=directory.user_choices(),
            departments=directory.department_choices(),
            link_titles=titles,
        ),
        "views": views,
        "can_create": t.can(Operation.CREATE),
        "can_delete": t.can(Operation.DELETE),
        "list_url": _list_url(t, {}),
        "bulk": action_pages.offered_in_bulk(t),
    }
    template = "records/_results.html" if _is_fragment("results") else "records/list.html"
    return _varies(make_response(render_template(template, **values)))


def _list_url(t: Target, params: Mapping[str, str]) -> str:
    """The list's address with ``params``, encoded as ``url_for`` would (a list page links
    to itself once per sortable column, so the address is built once per request)."""
    query = urlencode([(k, v) for k, v in params.items() if v is not None], safe=URL_SAFE)
    return f"{t.list_address}?{query}" if query else t.list_address


def _total(page: Page) -> str:
    if page.total is None:
        return ""
    count = f"{page.total:,}+" if page.total_is_capped else f"{page.total:,}"
    return str(ngettext("%(count)s record", "%(count)s records", page.total, count=count))


def _column_views(t: Target, state: ListState, columns: list[str]) -> list[ColumnView]:
    sortable = sortable_columns(t.form, t.service.schema)
    current = state.sort or (str(t.form.list_view.sort[0]) if t.form.list_view.sort else "")
    found = []
    for key in columns:
        shown = "desc" if current == f"-{key}" else "asc" if current == key else ""
        if key not in sortable:
            found.append(ColumnView(key, column_label(t.form, key), None, shown))
            continue
        ascending = _list_url(t, state.params(sort=key))
        descending = _list_url(t, state.params(sort=f"-{key}"))
        flipped = descending if shown == "asc" else ascending
        found.append(
            ColumnView(key, column_label(t.form, key), flipped, shown, ascending, descending)
        )
    return found


def _column_choices(t: Target, shown: list[str]) -> list[tuple[str, str, bool]]:
    """The column chooser's boxes: the shown columns in their order, ticked, then the rest
    the reader may see, so choosing again keeps the order."""
    rest = [k for k in cell_columns(t.form) if k not in shown and k not in t.hidden]
    return [(k, column_label(t.form, k), k in shown) for k in [*shown, *rest]]


def _highlight_reads(t: Target, columns: list[str]) -> list[str]:
    """The fields the list's ``highlight`` reads beyond its columns; none when it reads a field
    hidden from the user, whom it marks nothing for (see ``_highlighted``), since asking the
    query for that field would refuse the whole list."""
    highlight = t.form.list_view.highlight
    if highlight is None or highlight.names & t.hidden:
        return []
    return sorted(k for k in highlight.names if t.form.has_field(k) and k not in columns)


def _highlighted(t: Target, rows: list[Record]) -> set[int]:
    """The ids of the rows that stand out; none when the rule reads a field the user may not
    see (its colour would tell what the field holds)."""
    highlight = t.form.list_view.highlight
    if highlight is None or highlight.names & t.hidden:
        return set()
    names = t.service.context(t.actor).names
    found = set()
    for record in rows:
        try:
            if highlight.evaluate({**record, **names}):
                found.add(record["id"])
        except ExpressionError:
            continue
    return found


def _row_view(
    shower: Displayer, form: Form, columns: list[str], record: Record, href: str
) -> RowView:
    return RowView(record, href, [shower.cell(form, key, record).short() for key in columns])


@blueprint.route("/<app_key>/<form_key>/views", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def save_view(app_key: str, form_key: str) -> Response:
    t = target(app_key, form_key)
    refuse(t, Operation.READ)
    state = ListState.from_args(t.form, t.service.schema, request.form)
    name = request.form.get("name", "")
    try:
        with write_transaction(context.instance().engine) as connection:
            saved_views.save_view(
                connection,
                context.user().id,
                t.service.schema.table(t.form.key).name,
                name,
                state.params(),
            )
    except saved_views.SavedViewError as error:
        flash(
            _("Give the view a name of up to 100 characters.")
            if error.code == "name"
            else _("You have too many saved views here; delete one first.")
            if error.code == "too_many"
            else _("This view cannot be saved.")
        )
    else:
        flash(_("Saved the view “%(name)s”.", name=" ".join(name.split())))
    return redirect(_list_url(t, state.params()))


@blueprint.route("/<app_key>/<form_key>/views/<int:view_id>/delete", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def delete_view(app_key: str, form_key: str, view_id: int) -> Response:
    t = target(app_key, form_key)
    with write_transaction(context.instance().engine) as connection:
        deleted = saved_views.delete_view(connection, context.user().id, view_id)
    flash(_("Deleted the view.") if deleted else _("That view no longer exists."))
    return redirect(_list_url(t, {}))


# one record ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Related:
    form: Form
    link: Field
    rows: list[tuple[str, str]]
    more: bool
    list_href: str
    create_href: str | None


@dataclass(frozen=True)
class HistoryEntry:
    action: str
    who: str
    when: str
    changes: list[tuple[str, Shown, Shown]]


@blueprint.route("/<app_key>/<form_key>/<int:record_id>")
@login_required  # type: ignore[untyped-decorator]
def detail(app_key: str, form_key: str, record_id: int) -> ResponseReturnValue:
    return _detail_page(target(app_key, form_key), record_id)


@blueprint.route("/<app_key>/<form_key>/<int:record_id>/approval", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def approval(app_key: str, form_key: str, record_id: int) -> ResponseReturnValue:
    """One of the record's approval buttons (see :mod:`formflow.web.approvals`)."""
    t = target(app_key, form_key)
    t.service.get(t.actor, t.form.key, record_id)  # not found unless the caller may read it
    done = approvals.carry_out(t, record_id)
    if isinstance(done, approvals.Sent):
        return _detail_page(t, record_id, done), 422
    return done


def _detail_page(t: Target, record_id: int, sent: approvals.Sent | None = None) -> str:
    record, history = t.service.get_with_history(t.actor, t.form.key, record_id)
    directory = load_names(*names_needed(t.form, ["created_by", *(f.key for f in t.form.fields)]))
    related_pages = _related_pages(t, record_id)
    changed = [
        {key: pair[side] for key, pair in entry.changes.items()}
        for entry in history
        for side in (0, 1)
    ]
    held = merge_ids(link_ids(t.form, [record]), link_ids(t.form, changed))
    titles = titles_for(t, {}, directory, held=held)
    shower = displayer(t, directory, titles, record_id)
    visible, _required = editing.applicable(t, record)
    approval = approvals.panel(t, record, directory, sent)
    unseen = approval.hidden if approval is not None else frozenset()
    shown = [
        (found, shower.show(found, record.get(found.key)))
        for found in t.form.fields
        if found.key in visible and found.key not in t.hidden and found.key not in unseen
    ]
    system = [
        (column_label(t.form, key), shower.system(key, record.get(key)))
        for key in ("created_by", "created_at", "updated_by", "updated_at", "version")
    ]
    return render_template(
        "records/detail.html",
        t=t,
        form=t.form,
        record=record,
        title=shower.title(t.form, record),
        fields=shown,
        system=system,
        related=[_related_view(t, shower, record_id, *found) for found in related_pages],
        history=[_history_entry(t, shower, entry) for entry in history],
        can_edit=t.may_change(Operation.UPDATE, record),
        can_delete=t.may_change(Operation.DELETE, record),
        readonly_now=t.service.readonly_now(t.actor, t.form.key, record),
        approval=approval,
        actions=action_pages.offered(t, record),
        following=follows.is_following(t.service, t.actor, t.form.key, record_id),
    )


def _related_pages(t: Target, record_id: int) -> list[tuple[Form, Field, list[Record], bool]]:
    """For each link pointing at this form, the first records that link to this one."""
    return [
        (
            t.app.form(found.form_key),
            t.app.form(found.form_key).field(found.link_key),
            found.records,
            found.more,
        )
        for found in t.service.linked_to(t.actor, t.form.key, record_id, limit=RELATED)
    ]


def _related_view(
    t: Target,
    shower: Displayer,
    record_id: int,
    other: Form,
    link: Field,
    records: list[Record],
    more: bool,
) -> Related:
    record_url = record_urls(t.app_key)
    rows = [(shower.title(other, row), record_url(other.key, row["id"])) for row in records]
    where: dict[str, Any] = {"app_key": t.app_key, "form_key": other.key}
    filtered: dict[str, Any] = {f"f.{link.key}": str(record_id)}
    list_href = url_for("records.index", **filtered, **where)
    prefilled: dict[str, Any] = {link.key: record_id, **where}
    create_href = (
        url_for("records.create", **prefilled)
        if t.can(Operation.CREATE, other) and editable(link)
        else None
    )
    return Related(other, link, rows, more, list_href, create_href)


def _history_entry(t: Target, shower: Displayer, entry: Any) -> HistoryEntry:
    actions = {
        "create": pgettext("history", "Created"),  # not the column "Created" (创建时间)
        "update": _("Changed"),
        "delete": _("Moved to the recycle bin"),
        "restore": _("Restored"),
    }
    changes = []
    comment = entry.changes.get("comment") if entry.action in wording.ACTIONS else None
    if comment is not None:
        changes.append((_("Comment"), EMPTY, Shown(str(comment[1]))))
    elif entry.action == "update":
        for key, (old, new) in entry.changes.items():
            if t.form.has_field(key):
                found = t.form.field(key)
                changes.append(
                    (text(found.label), shower.show(found, old), shower.show(found, new))
                )
            else:
                changes.append(
                    (key, Shown(str(old)) if old is not None else EMPTY, Shown(str(new)))
                )
    who = shower.system("created_by", entry.user_id) if entry.user_id else Shown(_("System"))
    return HistoryEntry(
        actions.get(entry.action) or translate(wording.action(entry.action), {}),
        who.text,
        shower.system("created_at", entry.at).text,
        changes,
    )


@blueprint.route("/<app_key>/<form_key>/<int:record_id>/delete", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def delete(app_key: str, form_key: str, record_id: int) -> Response:
    t = target(app_key, form_key)
    try:
        t.service.delete(t.actor, t.form.key, record_id)
    except RecordInUse as error:
        reason = error_message(error)
        return _told(_("This record cannot be deleted: %(reason)s", reason=reason), t, record_id)
    return _told(_("Moved to the recycle bin."), t)


@blueprint.route("/<app_key>/<form_key>/bin")
@login_required  # type: ignore[untyped-decorator]
def recycle_bin(app_key: str, form_key: str) -> ResponseReturnValue:
    t = target(app_key, form_key)
    cursor = request.args.get("cursor", "")[:2000] or None
    try:
        page = t.service.find(
            t.actor,
            t.form.key,
            Query(deleted=True, limit=t.form.list_view.page_size, cursor=cursor),
        )
    except QueryError:
        page = t.service.find(
            t.actor, t.form.key, Query(deleted=True, limit=t.form.list_view.page_size)
        )
    directory = load_names(departments=False)
    held = link_ids(t.form, page.rows, [t.form.title_field])
    titles = titles_for(t, {}, directory, held=held)
    shower = displayer(t, directory, titles)
    rows = [
        (
            row["id"],
            shower.title(t.form, row),
            shower.system("updated_at", row.get("_deleted_at")).text,
            shower.system("updated_by", row.get("_deleted_by")).text,
        )
        for row in page.rows
    ]
    next_href = (
        url_for("records.recycle_bin", app_key=app_key, form_key=form_key, cursor=page.next_cursor)
        if page.next_cursor
        else None
    )
    return render_template(
        "records/bin.html", t=t, form=t.form, rows=rows, total=_total(page), next_href=next_href
    )


@blueprint.route("/<app_key>/<form_key>/<int:record_id>/restore", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def restore(app_key: str, form_key: str, record_id: int) -> Response:
    t = target(app_key, form_key)
    try:
        t.service.restore(t.actor, t.form.key, record_id)
    except ValidationFailed as failed:
        placed, general = place_problems(failed.problems, None, t.form)
        reasons = [*general, *(m for messages in placed.values() for m in messages)]
        flash(_("This record cannot be restored: %(reason)s", reason=" ".join(reasons)))
        return redirect(url_for("records.recycle_bin", app_key=app_key, form_key=form_key))
    return _told(_("Restored."), t, record_id)


def _told(message: str, t: Target, record_id: int | None = None) -> Response:
    """After moving a record to or from the bin: ``message`` for the next page, which is
    the record's own (``record_id``) or else the list."""
    flash(message)
    if record_id is None:
        return redirect(_list_url(t, {}))
    return redirect(
        url_for("records.detail", app_key=t.app_key, form_key=t.form.key, record_id=record_id)
    )


# create and edit ----------------------------------------------------------------------


@blueprint.route("/<app_key>/<form_key>/new", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def create(app_key: str, form_key: str) -> ResponseReturnValue:
    t = target(app_key, form_key)
    refuse(t, Operation.CREATE)
    return editing.form_page(t, None)


@blueprint.route("/<app_key>/<form_key>/<int:record_id>/edit", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def edit(app_key: str, form_key: str, record_id: int) -> ResponseReturnValue:
    t = target(app_key, form_key)
    record = t.service.get(t.actor, t.form.key, record_id)
    refuse(t, Operation.UPDATE)
    return editing.form_page(t, record)


@blueprint.route("/<app_key>/<form_key>/conditions", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def conditions(app_key: str, form_key: str) -> Response:
    """Which fields are visible and required for the values sent (the form as it is), and
    the text of what the chosen links fill in or look up (``values``), to show at once."""
    t = target(app_key, form_key)
    record_id = parse_id(request.form.get("_record", ""))
    base = None
    if record_id is not None:
        base = t.service.get(t.actor, t.form.key, record_id)
    elif not t.can(Operation.CREATE):
        refuse(t, Operation.CREATE)
    record_form = form_class(t.form, Pickers())(formdata=request.form, meta={"csrf": False})
    submission = submitted(t.form, record_form)
    submission.row_numbers = sent_row_numbers(t.form, record_form, submission, request.form)
    linked = editing.linked_on_page(t, submission, base)
    visible, required = editing.evaluate_conditions(t, submission, base, linked)
    directory = load_names(*names_needed(t.form, list(linked)))
    shower = displayer(t, directory, titles_for(t, link_ids(t.form, [linked]), directory))
    shown = {
        key: shower.show(t.form.field(key), value).text
        for key, value in linked.items()
        if key not in t.hidden
    }
    return jsonify(visible=sorted(visible), required=sorted(required), values=shown)


@blueprint.route("/<app_key>/<form_key>/lookup/<path>")
@login_required  # type: ignore[untyped-decorator]
def lookup(app_key: str, form_key: str, path: str) -> ResponseReturnValue:
    """Records a link field may point at, matching what was typed (an htmx fragment)."""
    t = target(app_key, form_key)
    key, _dot, sub_key = path.partition(".")
    if not t.form.has_field(key):
        abort(404)
    found = t.form.field(key)
    if sub_key:
        try:
            found = found.subfield(sub_key)
        except KeyError:
            abort(404)
    if not found.is_link or not found.target_form:
        abort(404)
    typed = next(
        (value for name, value in request.args.items() if name.endswith(LABEL_SUFFIX)),
        request.args.get("q", ""),
    )
    page = search_records(t, found.target_form, typed, editing.LOOKUP, _narrowing(t.form, found))
    linked = t.app.form(found.target_form)
    shower = Displayer(t.app, timezone=t.service.timezone)
    results = [(row["id"], shower.title(linked, row)) for row in page.rows]
    return render_template("records/_lookup.html", results=results, typed=typed)


@blueprint.route("/<app_key>/<form_key>/duplicates/<field_key>")
@login_required  # type: ignore[untyped-decorator]
def duplicates(app_key: str, form_key: str, field_key: str) -> ResponseReturnValue:
    """What the app's duplicate checks find for the value being typed into a field (an
    htmx fragment shown under it): who holds a match, or that it is in the pool."""
    t = target(app_key, form_key)
    typed = request.args.get(field_key, "").strip()
    record_id = parse_id(request.args.get("_record", ""))
    found = t.service.duplicates_of(t.actor, t.form.key, field_key, typed, record_id)
    messages = [problem_text(problem, t.form) for problem in found]
    return render_template("records/_duplicates.html", messages=messages)


def _narrowing(form: Form, found: Field) -> dict[str, Any]:
    """What the picker of a link with ``link_filter`` is narrowed by: the values the page
    holds in the fields it names (sent along by hx-include), where one is chosen."""
    narrow: dict[str, Any] = {}
    for theirs, named in found.link_filter:
        ours = named.removeprefix("parent.")  # a row's link: the record's field
        text = request.args.get(ours, "").strip()
        if not text or not form.has_field(ours):
            continue
        value: Any = parse_id(text) if form.field(ours).field_type.reference else text
        if value is not None:
            narrow[theirs] = value
    return narrow


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
    uploads.init_app(app)
    action_pages.init_app(app)
