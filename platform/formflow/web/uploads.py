"""Attachments on pages: taking files from a sent form, and serving them for download.

Files arrive with the record's own form (``multipart/form-data``), in an input named
``<field>__upload``; the files a record keeps are check boxes named ``<field>`` holding
file ids. A kept id is only honoured if the file is already on this record or was
uploaded by the same person and fits the field, so nobody can attach (and then download)
someone else's file by typing its id: the rule is :mod:`formflow.files.attaching`, which
the API follows too.

A file is downloaded only through a record the person may read (the record service
decides), and always as a download: ``Content-Disposition: attachment``, ``nosniff``, a
sandboxing CSP, and a content type from a short list of harmless ones, so an uploaded
HTML page or SVG can never run in the site's origin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, abort, request, send_file
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from formflow.definitions.model import Field, Form
from formflow.fields import ValueKind
from formflow.files import attaching, attachments
from formflow.storage.database import read_transaction, write_transaction
from formflow.web import context
from formflow.web.targets import target

blueprint = Blueprint("uploads", __name__)

UPLOAD_SUFFIX = "__upload"
SERVED_AS_IS = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)


@dataclass
class Attached:
    """The files each attachment field will hold, and problems with the files sent."""

    values: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)


def file_fields(form: Form) -> list[Field]:
    return [f for f in form.fields if f.kind is ValueKind.FILES and not f.readonly]


def limits(field: Field) -> attaching.Limits:
    """What ``field`` accepts in this instance."""
    return attaching.limits(field, context.instance().settings.max_upload_mb)


def take_files(form: Form, existing: Mapping[str, Any] | None, user_id: int | None) -> Attached:
    """Store the files sent with the request and work out each field's files."""
    result = Attached()
    fields = file_fields(form)
    if not fields:
        return result
    instance = context.instance()
    kept_ids = {f.key: request.form.getlist(f.key) for f in fields}
    with read_transaction(instance.engine) as connection:
        known = attachments.get_files(connection, (i for ids in kept_ids.values() for i in ids))
    held = attaching.held_files(form, existing or {})
    for found in fields:
        kept = []
        for file_id in dict.fromkeys(kept_ids[found.key]):
            try:
                kept.append(
                    attaching.attach(
                        file_id, limits(found), held=held, uploaded=known, user_id=user_id
                    )
                )
            except attachments.AttachmentRefused as refused:
                if refused.code != "not_found":  # only a forged form sends an unknown id
                    result.problems.setdefault(found.key, []).append(_refusal(refused, found))
        new = _store(found, user_id, result)
        files = [*kept, *new]
        result.values[found.key] = files if found.multiple else files[-1:]
    return result


def _store(found: Field, user_id: int | None, result: Attached) -> list[dict[str, Any]]:
    uploads = [f for f in request.files.getlist(found.key + UPLOAD_SUFFIX) if f.filename]
    if not found.multiple:
        uploads = uploads[-1:]
    stored = []
    folder = context.instance().settings.uploads_dir
    for upload in uploads:
        try:
            with write_transaction(context.instance().engine) as connection:
                saved = attachments.store(
                    connection,
                    folder,
                    upload.stream,
                    name=upload.filename or "file",
                    user_id=user_id,
                    max_bytes=limits(found).max_bytes,
                    accept=limits(found).accept,
                )
        except attachments.AttachmentRefused as refused:
            result.problems.setdefault(found.key, []).append(_refusal(refused, found))
            continue
        stored.append(saved.descriptor())
    return stored


def _refusal(refused: attachments.AttachmentRefused, found: Field) -> str:
    name = refused.params.get("name", "")
    if refused.code == "too_large":
        return str(
            _(
                "%(name)s is too large: files here may have at most %(limit)s MB.",
                name=name,
                limit=refused.params.get("limit_mb"),
            )
        )
    if refused.code == "type":
        return str(
            _(
                "%(name)s: this type of file is not accepted here (accepted: %(accept)s).",
                name=name,
                accept=", ".join(found.accept),
            )
        )
    return str(_("%(name)s is empty.", name=name))


def find_file(form: Form, record: Mapping[str, Any], file_id: str) -> dict[str, Any] | None:
    """The descriptor of ``file_id`` if one of the record's fields (or rows) holds it."""
    return attaching.held_files(form, record).get(file_id)


def served_type(content_type: str) -> str:
    kind = content_type.split(";")[0].strip().lower()
    return kind if kind in SERVED_AS_IS else attachments.UNKNOWN_TYPE


@blueprint.route("/<app_key>/<form_key>/<int:record_id>/files/<file_id>")
@login_required  # type: ignore[untyped-decorator]
def download(app_key: str, form_key: str, record_id: int, file_id: str) -> Response:
    found = target(app_key, form_key)
    record = found.service.get(found.actor, form_key, record_id)
    item = find_file(found.form, record, file_id)
    if item is None:
        abort(404)
    path = attachments.path_for(context.instance().settings.uploads_dir, file_id)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=served_type(str(item.get("content_type") or "")),
        as_attachment=True,
        download_name=attachments.clean_name(str(item.get("name") or "file")),
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
