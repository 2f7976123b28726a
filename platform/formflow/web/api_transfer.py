"""The import and export endpoints of the REST API.

Thin: the request becomes a call to :mod:`formflow.transfer`, as the token's user, and the
answer a file or JSON. An export streams (CSV piece by piece; XLSX through a temporary file,
as a workbook is finished only at its end). An import takes the file as ``multipart/form-
data`` and runs while the request waits; pages send large files to a background job.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Response, request, stream_with_context
from werkzeug.datastructures import FileStorage

from formflow.errors import N_, QueryError
from formflow.transfer import exporting, mapping
from formflow.transfer.importing import (
    Duplicates,
    Importer,
    ImportOptions,
    Mode,
    Outcome,
    PreviewRow,
)
from formflow.transfer.reading import open_sheet
from formflow.web.api import (
    _filter,
    _sort,
    actor_for,
    blueprint,
    form_service,
    json_response,
)
from formflow.web.i18n import LANGUAGES, language, problem_message

XLSX_SPOOL = 16 * 1024 * 1024
"""Bytes of a workbook kept in memory before it spills to a temporary file."""


@blueprint.get("/<app_key>/<form_key>/export")
def export(app_key: str, form_key: str) -> Response:
    service, form = form_service(app_key, form_key)
    file_format = _choice("format", [f.value for f in exporting.Format], "csv")
    words = _choice("language", list(LANGUAGES), language())
    listed = exporting.ListRequest(
        filter=_filter(request.args.get("filter")),
        search=request.args.get("search") or None,
        sort=_sort(request.args.get("sort")),
    )
    table = exporting.export_table(service, actor_for(app_key), form.key, listed, language=words)
    chosen = exporting.Format(file_format)
    headers = {"Content-Disposition": f'attachment; filename="{form.key}.{chosen.value}"'}
    if chosen is exporting.Format.CSV:
        body = stream_with_context(exporting.csv_chunks(table))
        return Response(body, mimetype=chosen.media_type, headers=headers)
    spool = tempfile.SpooledTemporaryFile(max_size=XLSX_SPOOL)  # noqa: SIM115 (streamed, then closed)
    exporting.write_xlsx(table, spool, service)
    spool.seek(0)
    return Response(_drain(spool), mimetype=chosen.media_type, headers=headers)


def _drain(spool: Any) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(64 * 1024):
            yield chunk


_NOT_A_MAPPING = N_("mapping must be a JSON object of header: field")


def _choice(name: str, allowed: list[str], default: str) -> str:
    given = request.args.get(name, default)
    if given not in allowed:
        raise QueryError(
            N_("%(name)s must be one of %(allowed)s"),
            field=name,
            name=name,
            allowed=", ".join(allowed),
        )
    return given


@blueprint.post("/<app_key>/<form_key>/import")
def import_records(app_key: str, form_key: str) -> Response:
    service, form = form_service(app_key, form_key)
    upload = request.files.get("file")
    if not isinstance(upload, FileStorage) or not upload.filename:
        raise QueryError(
            N_("send the CSV or XLSX file as the multipart field 'file'"), field="file"
        )
    actor = actor_for(app_key)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        upload.save(path)
        with open_sheet(path) as sheet:
            options = _options(form, sheet.headers)
            importer = Importer(
                service, actor, form.key, sheet.headers, options, language=language()
            )
            if _yes(request.form.get("preview")):
                rows = importer.preview(sheet.rows)
                return json_response(
                    {
                        "mapping": _mapping_json(sheet.headers, options),
                        "preview": _preview_json(rows),
                    }
                )
            outcome = importer.run(sheet.rows)
    return json_response(_outcome_json(outcome), 200)


def _options(form: Any, headers: list[str]) -> ImportOptions:
    given = request.form.get("mapping")
    if given:
        try:
            by_header = json.loads(given)
        except ValueError:
            raise QueryError(_NOT_A_MAPPING, field="mapping") from None
        if not isinstance(by_header, dict):
            raise QueryError(_NOT_A_MAPPING, field="mapping")
        positions = {header: index for index, header in enumerate(headers)}
        chosen = mapping.checked(
            form,
            {positions[h]: path for h, path in by_header.items() if h in positions},
            len(headers),
        )
    else:
        chosen = mapping.suggest(form, headers)
    try:
        duplicates = Duplicates(request.form.get("duplicates", "create"))
        mode = Mode(request.form.get("mode", "rows"))
    except ValueError:
        raise QueryError(
            N_("duplicates must be create, skip or update; mode all or rows"), field="duplicates"
        ) from None
    match_on = tuple(
        key
        for key in (request.form.get("match_on") or "").split(",")
        if form.has_field(key.strip())
    )
    return ImportOptions(chosen, duplicates=duplicates, match_on=match_on, mode=mode)


def _yes(text: str | None) -> bool:
    return (text or "").lower() in ("1", "true", "yes")


def _mapping_json(headers: list[str], options: ImportOptions) -> dict[str, str]:
    return {headers[column]: path for column, path in sorted(options.mapping.items())}


def _preview_json(rows: list[PreviewRow]) -> list[dict[str, Any]]:
    return [
        {
            "row": row.row,
            "values": row.values,
            "errors": {
                column: [{"code": p.code, "message": problem_message(p)} for p in found]
                for column, found in row.errors.items()
            },
        }
        for row in rows
    ]


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {
        **outcome.counts(),
        "rolled_back": outcome.rolled_back,
        "errors": [
            {
                "row": error.row,
                "column": error.column,
                "code": error.problem.code,
                "message": problem_message(error.problem),
            }
            for error in outcome.errors
        ],
    }
