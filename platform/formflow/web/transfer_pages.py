"""The import and export pages of every form.

Export: the list page's buttons download what the list shows (its search, filters and
sort, read from the same URL) as CSV or XLSX. Import: upload a file, map its columns
(suggested from the headers, or as last mapped for files of the same headers), preview the
first rows as they will be stored, then run it: a large file as a background job whose
progress the page polls, a small one at once; the outcome page offers the error report.
Every step is a call to :mod:`formflow.transfer`; nothing here reads or writes records.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from formflow.definitions.model import Form, Operation
from formflow.storage.database import read_transaction, write_transaction
from formflow.transfer import exporting, mapping
from formflow.transfer.importing import Duplicates, Importer, ImportOptions, Mode
from formflow.transfer.reading import UnreadableFile, open_sheet
from formflow.transfer.report import write_report
from formflow.transfer.runs import ImportRuns, Run
from formflow.web import context
from formflow.web.i18n import error_message, language, problem_message, text
from formflow.web.listing import Filters, ListState
from formflow.web.targets import Target, refuse, target

blueprint = Blueprint("transfer", __name__)

BACKGROUND_BYTES = 512 * 1024
"""Files larger than this import as a background job (when the instance runs jobs)."""
_TOKEN = 22
_DUPLICATES = {choice.value for choice in Duplicates}
_MODES = {choice.value for choice in Mode}


# export -------------------------------------------------------------------------------


@blueprint.get("/<app_key>/<form_key>/export.<file_format>")
@login_required  # type: ignore[untyped-decorator]
def export(app_key: str, form_key: str, file_format: str) -> ResponseReturnValue:
    if file_format not in ("csv", "xlsx"):
        abort(404)
    t = target(app_key, form_key)
    refuse(t, Operation.READ)
    state = ListState.from_args(t.form, t.service.schema, request.args)
    listed = exporting.ListRequest(
        filter=Filters(t.form, t.service.schema, t.service.timezone).spec(state),
        search=state.search or None,
        sort=state.sort_keys(),
    )
    table = exporting.export_table(t.service, t.actor, t.form.key, listed, language=language())
    chosen = exporting.Format(file_format)
    name = f"{text(t.form.label)}.{chosen.value}"
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{_quoted(name)}"}
    if chosen is exporting.Format.CSV:
        body = stream_with_context(exporting.csv_chunks(table))
        return Response(body, mimetype=chosen.media_type, headers=headers)
    folder = _folder()
    path = folder / f"export-{secrets.token_hex(8)}.xlsx"
    exporting.write_xlsx(table, str(path), t.service)
    return Response(_drain(path), mimetype=chosen.media_type, headers=headers)


def _drain(path: Path) -> Any:
    try:
        with path.open("rb") as source:
            while chunk := source.read(64 * 1024):
                yield chunk
    finally:
        path.unlink(missing_ok=True)


def _quoted(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


# import -------------------------------------------------------------------------------


@blueprint.route("/<app_key>/<form_key>/import", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def upload(app_key: str, form_key: str) -> ResponseReturnValue:
    t = target(app_key, form_key)
    refuse(t, Operation.CREATE)
    if request.method == "POST":
        sent = request.files.get("file")
        if sent is None or not sent.filename:
            flash(_("Choose a CSV or Excel file to import."), "error")
        else:
            token = secrets.token_urlsafe(16)
            sent.save(_pending(token, "upload"))
            _pending(token, "json").write_text(
                json.dumps({"user": context.user().id, "name": sent.filename}),
                encoding="utf-8",
            )
            return redirect(
                url_for("transfer.mapping_page", app_key=app_key, form_key=form_key, token=token)
            )
    return render_template("records/import.html", t=t, form=t.form, step="upload")


@blueprint.get("/<app_key>/<form_key>/import/<token>")
@login_required  # type: ignore[untyped-decorator]
def mapping_page(app_key: str, form_key: str, token: str) -> ResponseReturnValue:
    t, path, name = _upload(app_key, form_key, token)
    try:
        with open_sheet(path) as sheet:
            headers = sheet.headers
    except UnreadableFile as error:
        flash(error_message(error), "error")
        return redirect(url_for("transfer.upload", app_key=app_key, form_key=form_key))
    with read_transaction(t.service.engine) as connection:
        remembered = mapping.remembered(connection, t.app_key, t.form.key, headers)
    chosen = remembered if remembered is not None else mapping.suggest(t.form, headers)
    return render_template(
        "records/import.html",
        t=t,
        form=t.form,
        step="map",
        token=token,
        file_name=name,
        headers=headers,
        chosen=chosen,
        remembered=remembered is not None,
        targets=_targets(t),
        unique=[f for f in t.form.fields if f.unique and f.key not in t.hidden],
    )


@blueprint.post("/<app_key>/<form_key>/import/<token>/preview")
@login_required  # type: ignore[untyped-decorator]
def preview(app_key: str, form_key: str, token: str) -> ResponseReturnValue:
    t, path, _name = _upload(app_key, form_key, token)
    with open_sheet(path) as sheet:
        options = _options(t, sheet.headers)
        importer = Importer(
            t.service, t.actor, t.form.key, sheet.headers, options, language=language()
        )
        rows = importer.preview(sheet.rows)
        columns = [sheet.headers[c] for c in sorted(options.mapping)]
    return render_template(
        "records/_import_preview.html",
        rows=rows,
        columns=columns,
        message=problem_message,
        shown=_shown,
    )


@blueprint.post("/<app_key>/<form_key>/import/<token>/run")
@login_required  # type: ignore[untyped-decorator]
def run(app_key: str, form_key: str, token: str) -> ResponseReturnValue:
    t, path, name = _upload(app_key, form_key, token)
    with open_sheet(path) as sheet:
        headers = sheet.headers
    options = _options(t, headers)
    with write_transaction(t.service.engine) as connection:
        mapping.remember(connection, t.app_key, t.form.key, headers, dict(options.mapping))
    runs = _runs()
    run_id = runs.start(
        app_key=t.app_key,
        form_key=t.form.key,
        user_id=context.user().id,
        upload=path,
        file_name=name,
        options=options,
        language=language(),
        background=path.stat().st_size > BACKGROUND_BYTES,
    )
    _pending(token, "json").unlink(missing_ok=True)
    return redirect(url_for("transfer.run_page", run_id=run_id))


@blueprint.get("/imports/<int:run_id>")
@login_required  # type: ignore[untyped-decorator]
def run_page(run_id: int) -> ResponseReturnValue:
    found = _run(run_id)
    t = target(found.app_key, found.form_key)
    template = "records/_import_progress.html" if _fragment() else "records/import_run.html"
    return render_template(template, t=t, form=t.form, run=found)


@blueprint.get("/imports/<int:run_id>/report.xlsx")
@login_required  # type: ignore[untyped-decorator]
def report(run_id: int) -> ResponseReturnValue:
    found = _run(run_id)
    errors = _runs().errors(run_id)
    path = _folder() / f"report-{secrets.token_hex(8)}.xlsx"
    write_report(
        errors,
        str(path),
        headers=(_("Row"), _("Column"), _("Reason")),
        words=problem_message,
    )
    name = _quoted(f"{found.file_name}-{_('errors')}.xlsx")
    return Response(
        _drain(path),
        mimetype=exporting.Format.XLSX.media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


# helpers --------------------------------------------------------------------------------


def _runs() -> ImportRuns:
    return context.instance().imports


def _folder() -> Path:
    folder = _runs().folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _pending(token: str, kind: str) -> Path:
    if len(token) != _TOKEN or not token.replace("-", "").replace("_", "").isalnum():
        abort(404)
    return _folder() / f"pending-{token}.{kind}"


def _upload(app_key: str, form_key: str, token: str) -> tuple[Target, Path, str]:
    """The form a step of an import names, the file uploaded under ``token`` and its
    name; refused unless the user may create records there, 404 unless they uploaded it."""
    t = target(app_key, form_key)
    refuse(t, Operation.CREATE)
    try:
        facts = json.loads(_pending(token, "json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        abort(404)
    if facts.get("user") != context.user().id:
        abort(404)
    return t, _pending(token, "upload"), str(facts.get("name") or "")


def _run(run_id: int) -> Run:
    found = _runs().get(run_id)
    if found is None or (found.user_id != context.user().id and not context.user().is_admin):
        abort(404)
    return found


def _fragment() -> bool:
    return request.headers.get("HX-Request") == "true"


def _targets(t: Target) -> list[tuple[str, str]]:
    """Each field path a column can fill, with its name, as the mapping's choices."""
    found = []
    for path, field, subtable in mapping.importable(t.form):
        if (subtable or field).key in t.hidden:
            continue
        label = text(field.label)
        if subtable is not None:
            label = f"{text(subtable.label)} · {label}"
        found.append((path, label))
    return found


def _options(t: Target, headers: list[str]) -> ImportOptions:
    given = {
        int(key.removeprefix("col-")): value
        for key, value in request.form.items()
        if key.startswith("col-") and key[4:].isascii() and key[4:].isdigit() and value
    }
    chosen = mapping.checked(t.form, given, len(headers))
    duplicates = request.form.get("duplicates", "create")
    mode = request.form.get("mode", "rows")
    match_on = tuple(
        key for key in request.form.getlist("match_on") if _is_field(t.form, key, t.hidden)
    )
    return ImportOptions(
        chosen,
        duplicates=Duplicates(duplicates) if duplicates in _DUPLICATES else Duplicates.CREATE,
        match_on=match_on,
        mode=Mode(mode) if mode in _MODES else Mode.ROW_BY_ROW,
    )


def _is_field(form: Form, key: str, hidden: frozenset[str]) -> bool:
    return form.has_field(key) and key not in hidden


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_shown(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_shown(item)}" for key, item in value.items())
    return str(value)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
