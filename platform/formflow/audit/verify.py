"""Checking the audit log's chain: the first entry that was edited, deleted or inserted.

The log is read in id order, a batch at a time, so memory stays flat however long it is.
Each entry must follow the one before without a gap, name that entry's hash as its
``previous_hash``, and hash to what it says; the last must be the one the head row names.
Someone who can write to the database can still rebuild the whole chain from the first
change onwards: keep the head hash that ``formflow audit verify`` prints somewhere else
(a ticket, a mail) to tell that apart later.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select

from formflow.audit.chain import Entry, head
from formflow.storage.platform_tables import GENESIS_HASH, audit_entries

BATCH = 1000


@dataclass(frozen=True)
class Break:
    """Where the chain stops holding, and how."""

    entry_id: int
    kind: str
    """``edited``, ``missing`` (deleted), ``inserted`` or ``head`` (the head row disagrees)."""
    message: str


@dataclass(frozen=True)
class Verdict:
    checked: int
    head_id: int
    head_hash: str
    broken: Break | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify(connection: Connection) -> Verdict:
    """Walk the whole chain and report the first break, if any."""
    head_id, head_hash = head(connection)
    previous_id, previous_hash, checked = 0, GENESIS_HASH, 0
    for entry in entries(connection):
        broken = _check(entry, previous_id, previous_hash)
        if broken is not None:
            return Verdict(checked, head_id, head_hash, broken)
        previous_id, previous_hash, checked = entry.id, entry.hash, checked + 1
    if previous_id != head_id or previous_hash != head_hash:
        if previous_id < head_id:
            broken = Break(
                previous_id + 1,
                "missing",
                f"entries {previous_id + 1} to {head_id} are missing: the log ends at "
                f"{previous_id} but its head says {head_id}",
            )
        else:
            broken = Break(
                previous_id,
                "head",
                f"entry {previous_id} is not the head the log recorded ({head_id}, "
                f"{head_hash[:12]}…): entries were added or the head was changed",
            )
        return Verdict(checked, head_id, head_hash, broken)
    return Verdict(checked, head_id, head_hash, None)


def _check(entry: Entry, previous_id: int, previous_hash: str) -> Break | None:
    if entry.id != previous_id + 1:
        missing = (
            f"{previous_id + 1}"
            if entry.id == previous_id + 2
            else f"{previous_id + 1} to {entry.id - 1}"
        )
        return Break(previous_id + 1, "missing", f"entry {missing} missing (deleted)")
    if entry.previous_hash != previous_hash:
        return Break(
            entry.id,
            "inserted",
            f"entry {entry.id} does not follow entry {previous_id}: it was inserted or replaced",
        )
    if entry.hash != entry.expected_hash():
        return Break(entry.id, "edited", f"entry {entry.id} was edited after it was written")
    return None


def entries(connection: Connection, after: int = 0) -> Iterator[Entry]:
    """Every entry after id ``after``, in order, read a batch at a time."""
    while True:
        rows = connection.execute(_BATCH, {"after": after, "limit": BATCH}).all()
        for row in rows:
            yield entry_of(row._mapping)
        if len(rows) < BATCH:
            return
        after = rows[-1].id


def entry_of(row: Any) -> Entry:
    return Entry(
        id=row["id"],
        at=row["at"],
        user_id=row["user_id"],
        action=row["action"],
        app_key=row["app_key"],
        form_key=row["form_key"],
        record_id=row["record_id"],
        address=row["address"],
        detail=row["detail"],
        previous_hash=row["previous_hash"],
        hash=row["hash"],
    )


_BATCH = (
    select(audit_entries)
    .where(audit_entries.c.id > bindparam("after"))
    .order_by(audit_entries.c.id)
    .limit(bindparam("limit"))
)
