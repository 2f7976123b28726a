"""Imports that outlive a request: a row per run, the file beside it, progress as it goes.

A page starts an import by recording a *run* (who, which form, the options) and keeping the
uploaded file in the instance folder (``imports/<id>.upload``); a large file then runs as a
background job on the instance's queue, a small one at once. While it runs, its progress
is written to ``imports/<id>.progress`` after each chunk (a file rather than the database,
which an all-or-nothing import holds in one transaction that a second writer would wait
on); at the end the run's row gets the counts and the errors go to ``imports/<id>.errors``
for the report. A worker on another machine needs the instance folder shared, as
attachments do.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from formflow.accounts import actor_for, get_user
from formflow.definitions.model import Label
from formflow.errors import Problem
from formflow.jobs import Jobs
from formflow.records import RecordService
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import import_runs
from formflow.storage.rows import from_row
from formflow.transfer.importing import Duplicates, Importer, ImportOptions, Mode, Outcome, RowError
from formflow.transfer.reading import open_sheet

TASK = "formflow.transfer.import"
QUEUED, RUNNING, DONE, REFUSED, FAILED = "queued", "running", "done", "refused", "failed"
FINISHED = frozenset({DONE, REFUSED, FAILED})


@dataclass(frozen=True)
class Run:
    id: int
    app_key: str
    form_key: str
    user_id: int | None
    file_name: str
    language: str
    status: str
    processed: int
    created: int
    updated: int
    skipped: int
    failed: int
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class ImportRuns:
    """The runs of one instance: ``folder`` holds their files, ``records`` finds an app's
    record service."""

    def __init__(
        self, engine: Engine, folder: Path, records: Callable[[str], RecordService]
    ) -> None:
        self.engine = engine
        self.folder = folder
        self.records = records
        self.enqueue: Callable[[int], object] | None = None
        """Set by :func:`attach`: sends a run to the background queue."""

    def start(
        self,
        *,
        app_key: str,
        form_key: str,
        user_id: int | None,
        upload: Path,
        file_name: str,
        options: ImportOptions,
        language: str,
        background: bool,
    ) -> int:
        """Record a run for the file at ``upload`` (moved into the folder) and run it:
        on the queue when ``background`` and there is one, else now. Returns its id."""
        stored = {
            "mapping": {str(k): v for k, v in options.mapping.items()},
            "duplicates": options.duplicates.value,
            "match_on": list(options.match_on),
            "mode": options.mode.value,
        }
        with write_transaction(self.engine) as connection:
            run_id = int(
                connection.execute(
                    insert(import_runs).returning(import_runs.c.id),
                    {
                        "app_key": app_key,
                        "form_key": form_key,
                        "user_id": user_id,
                        "file_name": file_name[:255],
                        "language": language,
                        "options": stored,
                        "status": QUEUED,
                        "processed": 0,
                        "created": 0,
                        "updated": 0,
                        "skipped": 0,
                        "failed": 0,
                        "started_at": datetime.now(UTC),
                    },
                ).scalar_one()
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        os.replace(upload, self._file(run_id, "upload"))
        if background and self.enqueue is not None:
            self.enqueue(run_id)
        else:
            self.run(run_id)
        return run_id

    def run(self, run_id: int) -> None:
        """The job: import the run's file, noting progress, then the outcome. A run that
        has finished already is left alone (a job may be handed over twice)."""
        found = self.get(run_id)
        if found is None or found.finished:
            return
        self._set(run_id, status=RUNNING)
        try:
            outcome = self._import(found)
        except Exception as exc:  # the run must end, whatever failed; it says what
            self._set(run_id, status=FAILED, error=str(exc)[:2000], finished_at=datetime.now(UTC))
            raise
        self._save_errors(run_id, outcome.errors)
        self._set(
            run_id,
            status=REFUSED if outcome.rolled_back else DONE,
            finished_at=datetime.now(UTC),
            **outcome.counts(),
        )
        self._file(run_id, "progress").unlink(missing_ok=True)
        self._file(run_id, "upload").unlink(missing_ok=True)

    def _import(self, found: Run) -> Outcome:
        with read_transaction(self.engine) as connection:
            stored = connection.execute(
                select(import_runs.c.options).where(import_runs.c.id == found.id)
            ).scalar_one()
            user = get_user(connection, found.user_id) if found.user_id is not None else None
            if user is None:
                raise ValueError("the user who started the import is gone")
            actor = actor_for(connection, user, found.app_key)
        options = ImportOptions(
            {int(k): v for k, v in stored["mapping"].items()},
            duplicates=Duplicates(stored["duplicates"]),
            match_on=tuple(stored["match_on"]),
            mode=Mode(stored["mode"]),
        )
        service = self.records(found.app_key)
        with open_sheet(self._file(found.id, "upload")) as sheet:
            importer = Importer(
                service, actor, found.form_key, sheet.headers, options, language=found.language
            )
            return importer.run(sheet.rows, lambda now: self._progress(found.id, now))

    def get(self, run_id: int) -> Run | None:
        """The run, with its progress so far while it runs."""
        with read_transaction(self.engine) as connection:
            row = connection.execute(select(import_runs).where(import_runs.c.id == run_id)).first()
        if row is None:
            return None
        progress: dict[str, Any] = {}
        if row.status == RUNNING:
            with contextlib.suppress(OSError, ValueError):
                progress = json.loads(self._file(run_id, "progress").read_text())
        return from_row(Run, row, **progress)

    def errors(self, run_id: int) -> list[RowError]:
        """The problems a finished run found."""
        try:
            saved = json.loads(self._file(run_id, "errors").read_text(encoding="utf-8"))
        except OSError:
            return []
        return [
            RowError(
                item["row"],
                item["column"],
                Problem(
                    item["code"],
                    item["template"],
                    tuple((key, _restored(value)) for key, value in item["params"]),
                ),
            )
            for item in saved
        ]

    def _progress(self, run_id: int, outcome: Outcome) -> None:
        path = self._file(run_id, "progress")
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(outcome.counts()))
        os.replace(partial, path)

    def _save_errors(self, run_id: int, errors: list[RowError]) -> None:
        saved = [
            {
                "row": error.row,
                "column": error.column,
                "code": error.problem.code,
                "template": error.problem.template,
                "params": [[key, _plain(value)] for key, value in error.problem.params],
            }
            for error in errors
        ]
        self._file(run_id, "errors").write_text(
            json.dumps(saved, ensure_ascii=False), encoding="utf-8"
        )

    def _set(self, run_id: int, **values: Any) -> None:
        with write_transaction(self.engine) as connection:
            connection.execute(update(import_runs).where(import_runs.c.id == run_id).values(values))

    def _file(self, run_id: int, kind: str) -> Path:
        return self.folder / f"{run_id}.{kind}"


def attach(jobs: Jobs, runs: ImportRuns) -> None:
    """Run imports as jobs on ``jobs``' queue (not retried: a failed import says why, and
    its rows are for a person to look at before trying again)."""
    runs.enqueue = jobs.huey.task(name=TASK)(runs.run)


def _plain(value: Any) -> Any:
    """A problem's parameter as JSON keeps it (a label as its two texts)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "zh") and hasattr(value, "en"):
        return {"zh": value.zh, "en": value.en}
    return str(value)


def _restored(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"zh", "en"}:
        return Label(zh=value["zh"], en=value["en"])
    return value
