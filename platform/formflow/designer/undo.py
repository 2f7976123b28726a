"""Undo and redo of a draft's designer steps, kept on the server with the draft.

Every change the designer saves (a click on the visual side, a save of the YAML tab) is a
step: the file's text before and after. Undo puts the *before* back, redo the *after*, each
as an ordinary draft save, so the revision check still guards against another tab. Steps
are the draft's: closing the browser keeps them, a new step after an undo drops the steps
that could have been redone (as every editor does), and publishing or discarding the draft
forgets them. A step whose file was changed since by other means is refused rather than
replayed over that change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from formflow.designer.drafts import DraftError, DraftFile, open_draft, save_file
from formflow.storage.platform_tables import designer_steps

KEPT_STEPS = 200
"""Steps kept per draft; the oldest go first."""


class NothingToUndo(DraftError):
    """There is no step to undo (or to redo)."""


def record_step(
    connection: Connection,
    app_key: str,
    path: str,
    before: str,
    after: str,
    user_id: int | None,
    batch: str | None = None,
) -> None:
    """Remember a saved change; the steps undone before it can no longer be redone. Steps
    that share a ``batch`` are undone and redone as one."""
    if before == after:
        return
    table = designer_steps
    connection.execute(delete(table).where(table.c.app_key == app_key, table.c.undone.is_(True)))
    connection.execute(
        table.insert().values(
            app_key=app_key,
            path=path,
            before=before,
            after=after,
            undone=False,
            batch=batch,
            made_by=user_id,
            made_at=datetime.now(UTC),
        )
    )
    oldest_kept = (
        select(table.c.id)
        .where(table.c.app_key == app_key)
        .order_by(table.c.id.desc())
        .offset(KEPT_STEPS)
        .limit(1)
        .scalar_subquery()
    )
    connection.execute(delete(table).where(table.c.app_key == app_key, table.c.id <= oldest_kept))


def save_step(
    connection: Connection,
    app_key: str,
    made_from: DraftFile,
    text: str,
    revision: int,
    user_id: int | None,
    batch: str | None = None,
) -> DraftFile:
    """Save ``text``, an edit of ``made_from`` sent from ``revision``, and remember it as a
    step: every designer save goes through here so that each one can be undone."""
    saved = save_file(connection, app_key, made_from.path, text, revision, user_id)
    record_step(connection, app_key, made_from.path, made_from.text, saved.text, user_id, batch)
    return saved


def undo(connection: Connection, app_key: str, user_id: int | None) -> DraftFile:
    """Put back the text before the latest step not undone."""
    return _take(connection, app_key, user_id, undone=False)


def redo(connection: Connection, app_key: str, user_id: int | None) -> DraftFile:
    """Make again the earliest step undone."""
    return _take(connection, app_key, user_id, undone=True)


def _take(connection: Connection, app_key: str, user_id: int | None, *, undone: bool) -> DraftFile:
    """Undo the latest step whose ``undone`` is false, or redo the earliest one whose
    ``undone`` is true, with its batch; then mark them the other way."""
    table = designer_steps
    row = connection.execute(
        select(table)
        .where(table.c.app_key == app_key, table.c.undone.is_(undone))
        .order_by(table.c.id if undone else table.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NothingToUndo(f"there is nothing to {'redo' if undone else 'undo'}")
    saved = None
    for step in _batch(connection, row, undone=undone):
        expected, text = (step.before, step.after) if undone else (step.after, step.before)
        saved = _replay(connection, app_key, step.path, expected, text, user_id)
        connection.execute(update(table).where(table.c.id == step.id).values(undone=not undone))
    assert saved is not None
    return saved


def _batch(connection: Connection, row: Any, *, undone: bool) -> list[Any]:
    """The steps taken back (or made again) with ``row``: its batch, last first to undo,
    first first to redo; or the row alone."""
    if row.batch is None:
        return [row]
    table = designer_steps
    order = table.c.id.asc() if undone else table.c.id.desc()
    return list(
        connection.execute(
            select(table)
            .where(
                table.c.app_key == row.app_key,
                table.c.batch == row.batch,
                table.c.undone.is_(undone),
            )
            .order_by(order)
        )
    )


def available(connection: Connection, app_key: str) -> tuple[bool, bool]:
    """Whether there is a step to undo, and one to redo."""
    table = designer_steps
    states = set(
        connection.execute(
            select(table.c.undone).where(table.c.app_key == app_key).distinct()
        ).scalars()
    )
    return False in states, True in states


def forget_steps(connection: Connection, app_key: str) -> None:
    """Drop the draft's steps (it was published, discarded or replaced)."""
    connection.execute(delete(designer_steps).where(designer_steps.c.app_key == app_key))


def _replay(
    connection: Connection, app_key: str, path: str, expected: str, text: str, user_id: int | None
) -> DraftFile:
    stored = open_draft(connection, app_key).files.get(path)
    if stored is None or stored.text != expected:
        raise DraftError(f"{path} was changed since that step, so it cannot be undone or redone")
    return save_file(connection, app_key, path, text, stored.revision, user_id)
