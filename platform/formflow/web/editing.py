"""The create and edit pages: a form per definition, sent back through the service.

A sent form is collected by :mod:`formflow.web.formbuilder`, its files stored by
:mod:`formflow.web.uploads`, and saved by the record service; its problems come back next
to the fields (and subtable cells) they concern, with everything typed kept. Which fields
show and which are needed is worked out with the service's own rules
(:mod:`formflow.records.compute`), both for the first render and for the live updates the
page asks for while someone types.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from formflow.accounts.directory import Directory
from formflow.definitions.model import Field
from formflow.errors import (
    DuplicateSuspected,
    PermissionDenied,
    RecordNotFound,
    StaleRecord,
    ValidationFailed,
)
from formflow.fields import ValueKind, is_empty
from formflow.records import (
    Context,
    DefaultFailed,
    ExpressionRefused,
    Record,
    applicable_fields,
    create_with_inline,
    default_value,
    settle,
    settle_row,
)
from formflow.web import inline_rows, uploads
from formflow.web.display import EMPTY, Displayer, Shown
from formflow.web.formbuilder import (
    LABEL_SUFFIX,
    Pickers,
    RecordForm,
    Submission,
    attribute,
    editable,
    form_class,
    input_data,
    input_value,
    place_problems,
    row_form_class,
    submitted,
)
from formflow.web.ids import parse_id
from formflow.web.targets import (
    Target,
    displayer,
    link_ids,
    load_names,
    search_records,
    titles_for,
)

LOOKUP = 10


@dataclass
class Outcome:
    """What a sent form led to, for the page shown again."""

    errors: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    general: list[str] = dataclasses.field(default_factory=list)
    files: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    status: int = 200
    inline: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    """Problems of the inline rows, by ``<form>.<row>.<field>``."""
    duplicates: bool = False
    """A duplicate check warned: the page offers to save anyway."""


def form_page(t: Target, record: Record | None) -> ResponseReturnValue:
    directory = load_names()
    pickers = Pickers(tuple(directory.user_choices()), tuple(directory.department_choices()))
    fixed = t.fixed(creating=record is None)
    own_only = record is None and not t.may_reassign()
    cls = form_class(t.form, pickers, fixed, owner=t.actor.user_id if own_only else None)
    outcome = Outcome(
        files={f.key: list(record.get(f.key) or []) for f in uploads.file_fields(t.form)}
        if record
        else {}
    )
    if request.method == "POST":
        record_form = cls()
        saved = _save(t, record, record_form, outcome)
        if saved is not None:
            flash(_("Saved."))
            return redirect(
                url_for(
                    "records.detail",
                    app_key=t.app_key,
                    form_key=t.form.key,
                    record_id=saved["id"],
                )
            )
    else:
        start = record if record is not None else _new_values(t)
        record_form = cls(data=input_data(t.form, start, t.service.timezone, fixed))
        if record is not None:
            record_form.version.data = str(record["version"])
    page = _render_form(t, record, record_form, outcome, directory, pickers)
    return page, outcome.status


def _save(
    t: Target, record: Record | None, record_form: RecordForm, outcome: Outcome
) -> Record | None:
    record_form.validate()
    submission = submitted(t.form, record_form)
    extra = _resolve_typed_links(t, record_form, submission)
    attached = uploads.take_files(t.form, record, t.actor.user_id)
    outcome.files.update(attached.values)
    for key, messages in attached.problems.items():
        extra.setdefault(key, []).extend(messages)
    values = {**submission.values, **attached.values}
    sent = inline_rows.sent_rows(t.app, t.form, request.form) if record is None else None
    warn = request.form.get("confirm_duplicates") != "1"
    try:
        if extra:
            _check_only(t, values, record)
        elif sent is not None and sent.rows:
            return create_with_inline(
                t.service, t.actor, t.form.key, values, sent.rows, warn_duplicates=warn
            )
        elif record is None:
            return t.service.create(t.actor, t.form.key, values, warn_duplicates=warn)
        else:
            version = record_form.version.data or ""
            return t.service.update(
                t.actor,
                t.form.key,
                record["id"],
                values,
                expected_version=parse_id(version) or 0,
                warn_duplicates=warn,
            )
    except DuplicateSuspected as suspected:
        outcome.errors, outcome.general = place_problems(suspected.problems, submission, t.form)
        outcome.general.append(
            _("This may duplicate a record already there (see the marked fields).")
        )
        outcome.duplicates = True
        outcome.status = 409
    except ValidationFailed as failed:
        problems = failed.problems
        if sent is not None:
            problems, outcome.inline = inline_rows.split_problems(t.form, problems, sent, t.app)
        outcome.errors, outcome.general = place_problems(problems, submission, t.form)
    except StaleRecord as stale:
        outcome.general.append(
            _(
                "Someone else saved this record while you were editing it. Your changes are "
                "kept below; open the record in another tab to see theirs. Saving again "
                "will replace their changes with yours."
            )
        )
        record_form.version.data = str(stale.actual)
        outcome.status = 409
    for key, messages in extra.items():
        outcome.errors.setdefault(key, []).extend(messages)
    if outcome.status == 200:
        outcome.status = 422
    return None


def _check_only(t: Target, values: Mapping[str, Any], record: Record | None) -> None:
    """Run the service's checks without saving (when a file or a typed link already
    failed), so every problem shows at once."""
    t.service.check(t.actor, t.form.key, values, record)
    raise ValidationFailed({})


def _new_values(t: Target) -> dict[str, Any]:
    """A new record's starting values: defaults, then values given in the URL (a "new
    item" link from a parent record carries ``?parent=7``)."""
    context_now = t.context()
    values: dict[str, Any] = {}
    for found in t.form.fields:
        if found.kind is ValueKind.ROWS:
            blank = _blank_values(found, values, context_now)
            values[found.key] = [dict(blank) for _row in range(found.min_rows or 0)]
            continue
        if found.is_computed:
            continue
        values[found.key] = _default(found, {**values, **context_now.system_values()}, context_now)
        if editable(found) and found.key in request.args:
            if found.kind is ValueKind.CHOICES:
                values[found.key] = request.args.getlist(found.key)
            elif found.kind is ValueKind.BOOL:
                values[found.key] = request.args[found.key] in ("1", "true", "yes", "on")
            else:
                values[found.key] = request.args[found.key][:2000]
    _narrowed_by_given_links(t, values)
    return values


def _narrowed_by_given_links(t: Target, values: dict[str, Any]) -> None:
    """Empty fields that narrow a link given in the URL (``link_filter``) take the linked
    record's value, as saving would: a record added from a linked record's page shows
    the field that record implies instead of asking for it again."""
    for found in t.form.fields:
        chosen = parse_id(request.args.get(found.key, "")) if found.link_filter else None
        if chosen is None or found.target_form is None:
            continue
        try:
            linked = t.service.get(t.actor, found.target_form, chosen)
        except (RecordNotFound, PermissionDenied):
            continue
        for theirs, ours in found.link_filter:
            if (
                t.form.has_field(ours)
                and editable(t.form.field(ours))
                and is_empty(values.get(ours))
            ):
                values[ours] = linked.get(theirs)


def _resolve_typed_links(
    t: Target, record_form: RecordForm, submission: Submission
) -> dict[str, list[str]]:
    """Link fields whose search box holds text but no chosen record (no JavaScript, or
    the list was not used): the text is looked up, and taken if it names one record."""
    problems: dict[str, list[str]] = {}
    for found in t.form.fields:
        bound = record_form.field_for(found.key)
        if bound is None:
            continue
        if found.is_link and not submission.values.get(found.key):
            chosen = _typed_link(t, found, bound.name)
            if chosen is False:
                problems[found.key] = [_("Choose one of the matching records from the list.")]
            elif chosen is not None:
                submission.values[found.key] = str(chosen)
        elif found.kind is ValueKind.ROWS:
            for number, entry_index in enumerate(submission.row_entries.get(found.key, [])):
                row = submission.values[found.key][number]
                entry = bound.entries[entry_index]
                for sub in found.fields:
                    if not sub.is_link or row.get(sub.key) or not editable(sub):
                        continue
                    chosen = _typed_link(t, sub, entry.form[attribute(sub.key)].name)
                    if chosen is False:
                        path = f"{found.key}.{entry_index}.{sub.key}"
                        problems[path] = [_("Choose one of the matching records from the list.")]
                    elif chosen is not None:
                        row[sub.key] = str(chosen)
    return problems


def _typed_link(t: Target, found: Field, name: str) -> int | bool | None:
    """The record the text typed for link ``found`` names; ``None`` when nothing was typed,
    ``False`` when it names none or several."""
    typed = request.form.get(name + LABEL_SUFFIX, "").strip()
    if not typed or not found.target_form:
        return None
    page = search_records(t, found.target_form, typed, LOOKUP)
    linked = t.app.form(found.target_form)
    shower = Displayer(t.app, timezone=t.service.timezone)
    exact = [row["id"] for row in page.rows if shower.title(linked, row) == typed]
    if len(exact) == 1:
        return int(exact[0])
    if len(page.rows) == 1:
        return int(page.rows[0]["id"])
    return False


# the form page ------------------------------------------------------------------------


@dataclass
class Cell:
    """One input (or shown value) of a subtable row."""

    field: Field
    input: Any
    shown: Shown | None
    errors: list[str]
    link_label: str = ""
    visible: bool = True
    required: bool = False


@dataclass
class FieldView:
    """One field of the form page, with everything its template needs."""

    field: Field
    input: Any = None
    shown: Shown | None = None
    visible: bool = True
    required: bool = False
    errors: list[str] = dataclasses.field(default_factory=list)
    link_label: str = ""
    lookup_url: str = ""
    lookup_include: str = ""
    """The inputs whose values narrow the picker (a link's ``link_filter``), for hx-include."""
    files: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    rows: list[list[Cell]] = dataclasses.field(default_factory=list)
    row_numbers: list[int] = dataclasses.field(default_factory=list)
    """The page's number of each row in ``rows`` (rows removed on the page leave gaps)."""
    blank_row: list[Cell] = dataclasses.field(default_factory=list)
    lookup_urls: dict[str, str] = dataclasses.field(default_factory=dict)
    lookup_includes: dict[str, str] = dataclasses.field(default_factory=dict)
    """For each row link narrowed by ``parent.FIELD``: the record's inputs, for hx-include."""
    accept: str = ""
    max_mb: float = 0
    next_index: int = 0


def _render_form(
    t: Target,
    record: Record | None,
    record_form: RecordForm,
    outcome: Outcome,
    directory: Directory,
    pickers: Pickers,
) -> str:
    submission = submitted(t.form, record_form)
    raw = submission.values
    linked = linked_on_page(t, submission, record)
    visible, required = evaluate_conditions(t, submission, record, linked)
    held = link_ids(t.form, [record] if record else [])
    titles = titles_for(t, link_ids(t.form, [raw, linked]), directory, held=held)
    shower = displayer(t, directory, titles, record["id"] if record else None)
    shown = {**(record or {}), **linked}
    views = [
        _field_view(t, found, shown, record_form, outcome, shower, pickers, visible, required)
        for found in t.form.fields
        if found.key not in t.hidden
    ]
    action = (
        url_for("records.edit", app_key=t.app_key, form_key=t.form.key, record_id=record["id"])
        if record
        else url_for("records.create", app_key=t.app_key, form_key=t.form.key)
    )
    return render_template(
        "records/form.html",
        t=t,
        form=t.form,
        record=record,
        title=shower.title(t.form, record) if record else "",
        record_form=record_form,
        fields=views,
        general=outcome.general,
        action=action,
        conditions_url=url_for("records.conditions", app_key=t.app_key, form_key=t.form.key),
        multipart=bool(uploads.file_fields(t.form)),
        has_errors=bool(outcome.errors or outcome.general or outcome.inline),
        inline=[]
        if record is not None
        else inline_rows.sections(t.app, t.form, request.form, outcome.inline),
        confirm_duplicates=outcome.duplicates,
        duplicate_fields={
            key for check in t.app.duplicate_checks for key in check.fields_of(t.form.key)
        },
    )


def _field_view(
    t: Target,
    found: Field,
    record: Record | None,
    record_form: RecordForm,
    outcome: Outcome,
    shower: Displayer,
    pickers: Pickers,
    visible: set[str],
    required: set[str],
) -> FieldView:
    view = FieldView(
        found,
        input=record_form.field_for(found.key),
        visible=found.key in visible,
        required=found.key in required,
        errors=outcome.errors.get(found.key, []),
    )
    if found.kind is ValueKind.FILES:
        view.input = None
        if editable(found):
            view.files = outcome.files.get(found.key, [])
            view.accept = ",".join(found.accept)
            view.max_mb = uploads.limits(found).max_bytes / 1024 / 1024
        else:
            view.shown = shower.show(found, (record or {}).get(found.key))
    elif view.input is None:
        view.shown = shower.show(found, (record or {}).get(found.key)) if record else EMPTY
    elif found.is_link:
        view.link_label = _link_label(found, view.input, shower)
        view.lookup_url = _lookup_url(t, found.key)
        view.lookup_include = ", ".join(f"[name={ours}]" for _theirs, ours in found.link_filter)
    elif found.kind is ValueKind.ROWS:
        _fill_rows(t, view, record, outcome, shower, pickers, visible, required)
    return view


def _link_label(found: Field, bound: Any, shower: Displayer) -> str:
    if request.method == "POST":
        return request.form.get(bound.name + LABEL_SUFFIX, "")
    value = str(bound.data or "")
    record_id = parse_id(value)
    if record_id is None:
        return ""
    return shower.titles.get((found.target_form or "", record_id), f"#{value}")


def _lookup_url(t: Target, path: str) -> str:
    return url_for("records.lookup", app_key=t.app_key, form_key=t.form.key, path=path)


def _fill_rows(
    t: Target,
    view: FieldView,
    record: Record | None,
    outcome: Outcome,
    shower: Displayer,
    pickers: Pickers,
    visible: set[str],
    required: set[str],
) -> None:
    found = view.field
    stored = (record or {}).get(found.key) or [] if request.method == "GET" else []
    blank_values = _blank_values(found, record or {}, t.context())
    fresh = settle_row(found, dict(blank_values), record or {}, t.context())
    for position, entry in enumerate(view.input.entries):
        row = stored[position] if position < len(stored) else {}
        number = int(entry.name.rsplit("-", 1)[-1])
        prefix = f"{found.key}.{number}"
        cells = []
        for sub in found.fields:
            path = f"{prefix}.{sub.key}"
            cell = _cell(sub, entry.form, row, outcome.errors.get(path, []), shower)
            if prefix in visible:
                cell.visible, cell.required = path in visible, path in required
            else:  # a blank row, not sent: as a new row starts
                cell.visible, cell.required = sub.key in fresh.visible, sub.key in fresh.required
            cells.append(cell)
        view.rows.append(cells)
        view.row_numbers.append(number)
    view.next_index = 1 + max(view.row_numbers, default=-1)
    blank = row_form_class(found, pickers)(
        prefix=f"{found.key}-__index__-",
        data=_blank_row_data(found, blank_values, t),
    )
    view.blank_row = [_cell(sub, blank, {}, [], shower) for sub in found.fields]
    for cell in view.blank_row:
        cell.visible = cell.field.key in fresh.visible
        cell.required = cell.field.key in fresh.required
    view.lookup_urls = {
        sub.key: _lookup_url(t, f"{found.key}.{sub.key}") for sub in found.fields if sub.is_link
    }
    view.lookup_includes = {
        sub.key: ", ".join(
            f"[name={ours.partition('.')[2]}]"
            for _theirs, ours in sub.link_filter
            if ours.startswith("parent.")
        )
        for sub in found.fields
        if sub.is_link and sub.link_filter
    }


def _blank_values(found: Field, parent: Mapping[str, Any], now: Context) -> dict[str, Any]:
    """A new row's starting values (reading the record as ``parent``)."""
    blank: dict[str, Any] = {}
    for sub in found.fields:
        if not sub.is_computed:
            blank[sub.key] = _default(sub, {**blank, "parent": parent}, now)
    return blank


def _default(found: Field, names: Mapping[str, Any], now: Context) -> Any:
    """A field's starting value on the page; one that fails to work out starts empty (saving
    reports it next to the field)."""
    try:
        return default_value(found, names, now)
    except (DefaultFailed, ExpressionRefused):
        return None


def _blank_row_data(found: Field, values: Mapping[str, Any], t: Target) -> dict[str, Any]:
    return {
        attribute(sub.key): input_value(sub, values.get(sub.key), t.service.timezone)
        for sub in found.fields
        if editable(sub)
    }


def _cell(
    sub: Field, row_form: Any, row: Mapping[str, Any], errors: list[str], shower: Displayer
) -> Cell:
    bound = row_form._fields.get(attribute(sub.key))
    if bound is None:
        return Cell(sub, None, shower.show(sub, row.get(sub.key)), errors)
    label = _link_label(sub, bound, shower) if sub.is_link else ""
    return Cell(sub, bound, None, errors, label)


# which fields apply ---------------------------------------------------------------------


def linked_on_page(
    t: Target, submission: Submission, base: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The values the links chosen on the page bring along (fields they fill, lookups
    through them), as the save would give them: see
    :meth:`~formflow.records.service.RecordService.linked_values`."""
    raw = submission.values
    chosen = {
        found.key: t.service.read_value(found, raw[found.key])
        if found.key in raw
        else (base or {}).get(found.key)
        for found in t.form.fields
        if found.is_link
    }
    return t.service.linked_values(t.actor, t.form.key, chosen)


def evaluate_conditions(
    t: Target,
    submission: Submission,
    base: Mapping[str, Any] | None,
    linked: Mapping[str, Any] | None = None,
) -> tuple[set[str], set[str]]:
    """Which fields are visible and required for the values on the page, worked out with
    the service's own rules and order (:func:`formflow.records.compute.settle`). Values
    that do not convert yet (half typed) count as empty. A subtable row's cells are given
    as ``items.3.qty`` with the page's row number, and each row worked out as ``items.3``
    (numbered as the page sent them when ``submission.row_numbers`` says so). When a
    condition is past the expression budget with these values, every field shows.
    Conditions see what the chosen links bring along (``linked``, worked out here unless
    given), so a field can show or be needed by a value just filled in."""
    try:
        if linked is None:
            linked = linked_on_page(t, submission, base)
        return _conditions(t, submission, base, linked)
    except ExpressionRefused:
        return _all_shown(t)


def _conditions(
    t: Target,
    submission: Submission,
    base: Mapping[str, Any] | None,
    linked: Mapping[str, Any],
) -> tuple[set[str], set[str]]:
    now = t.context()
    raw = submission.values
    names: dict[str, Any] = {f.key: (base or {}).get(f.key) for f in t.form.fields}
    for found in t.form.fields:
        if found.kind is ValueKind.ROWS:
            given = raw.get(found.key, names[found.key] or [])
            names[found.key] = [
                {
                    sub.key: t.service.read_value(sub, row.get(sub.key))
                    for sub in found.fields
                    if not sub.is_computed
                }
                for row in given
            ]
        elif found.key in raw:
            names[found.key] = t.service.read_value(found, raw[found.key])
    names.update(linked)
    settled = settle(t.form, names, now, now.system_values(base))
    visible, required = set(settled.visible), set(settled.required)
    for key, rows in settled.rows.items():
        numbers = submission.row_numbers.get(key) or submission.row_entries.get(key, [])
        for row, number in zip(rows, numbers, strict=False):
            prefix = f"{key}.{number}"
            visible.add(prefix)
            visible.update(f"{prefix}.{sub}" for sub in row.visible)
            required.update(f"{prefix}.{sub}" for sub in row.required)
    return visible, required


def applicable(t: Target, record: Record) -> tuple[set[str], set[str]]:
    now = t.context()
    try:
        return applicable_fields(t.form, record, now)
    except ExpressionRefused:
        return _all_shown(t)


def _all_shown(t: Target) -> tuple[set[str], set[str]]:
    """What a page shows when a condition is past the expression budget with its values:
    every field, none marked required; saving reports the problem next to the field."""
    return {f.key for f in t.form.fields}, set()
