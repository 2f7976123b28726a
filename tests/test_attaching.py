"""The one rule for which files an attachment field may hold (formflow.files.attaching)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from formflow.definitions import load_app
from formflow.definitions.model import Form
from formflow.files.attaching import Limits, attach, held_files, limits
from formflow.files.attachments import AttachmentRefused, StoredFile
from support import MINIMAL_APP_YAML

PAPERS_YAML = """\
key: item
label: {zh: 条目, en: Item}
title_field: name
fields:
  - key: name
    type: text
    label: {zh: 名称, en: Name}
  - key: papers
    type: attachment
    label: {zh: 文件, en: Papers}
    multiple: true
    max_size_mb: 1
    accept: [.pdf]
  - key: lines
    type: subtable
    label: {zh: 明细, en: Lines}
    fields:
      - key: scan
        type: attachment
        label: {zh: 扫描件, en: Scan}
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""

MINE = 7
PDF = Limits(max_bytes=1024, accept=(".pdf",))


@pytest.fixture(scope="module")
def form() -> Form:
    app = load_app({"app.yaml": MINIMAL_APP_YAML, "forms/item.yaml": PAPERS_YAML})
    return app.form("item")


def stored(name: str = "minutes.pdf", size: int = 100, user_id: int = MINE) -> StoredFile:
    file_id = f"{len(name):02x}{size:030x}"
    content_type = "application/pdf" if name.endswith(".pdf") else "text/plain"
    return StoredFile(file_id, name, content_type, size, user_id, datetime.now(UTC))


def refusal(file: StoredFile, within: Limits = PDF, user_id: int | None = MINE) -> str:
    with pytest.raises(AttachmentRefused) as refused:
        attach(file.id, within, held={}, uploaded={file.id: file}, user_id=user_id)
    return refused.value.code


def test_a_file_the_person_uploaded_is_attached_with_the_platforms_descriptor() -> None:
    file = stored()
    got = attach(file.id, PDF, held={}, uploaded={file.id: file}, user_id=MINE)
    assert got == file.descriptor()


def test_someone_elses_or_an_unknown_file_is_refused() -> None:
    assert refusal(stored(user_id=MINE + 1)) == "not_found"
    assert refusal(stored(), user_id=None) == "not_found"
    with pytest.raises(AttachmentRefused) as refused:
        attach("0" * 32, PDF, held={}, uploaded={}, user_id=MINE)
    assert refused.value.code == "not_found"


def test_a_file_must_fit_the_field_it_goes_into() -> None:
    assert refusal(stored("notes.txt")) == "type"
    assert refusal(stored(size=PDF.max_bytes + 1)) == "too_large"
    exact = stored(size=PDF.max_bytes)
    assert attach(exact.id, PDF, held={}, uploaded={exact.id: exact}, user_id=MINE)["size"] == 1024


def test_a_file_the_record_holds_stays_even_if_it_no_longer_fits(form: Form) -> None:
    old = stored("notes.txt", size=10**7).descriptor()
    held = held_files(form, {"papers": [old]})
    assert attach(old["id"], PDF, held=held, uploaded={}, user_id=None) == old


def test_held_files_come_from_fields_and_rows(form: Form) -> None:
    top, row = stored("a.pdf").descriptor(), stored("scan.png").descriptor()
    record = {"papers": [top, {"id": "../etc/passwd"}], "lines": [{"scan": [row]}, {}]}
    assert held_files(form, record) == {top["id"]: top, row["id"]: row}


def test_a_fields_limits_never_exceed_the_instances(form: Form) -> None:
    papers = form.field("papers")
    assert limits(papers, ceiling_mb=20) == Limits(1024 * 1024, (".pdf",))
    assert limits(papers, ceiling_mb=0.5).max_bytes == 512 * 1024
