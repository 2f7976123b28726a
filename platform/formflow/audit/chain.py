"""Writing the audit log: one entry per act, chained to the one before by a hash.

An entry is written by :func:`log` on the connection of the act it records, so it commits
or rolls back with it. Every writer first updates the one-row head table
(``ff_audit_head``): the update takes that row's lock on PostgreSQL, and SQLite's writers
already queue for the whole database, so writers append one at a time, each after the head
it read. Entries are numbered from the head without gaps, so a deleted entry leaves a hole
that :mod:`formflow.audit.verify` names.

Who acts and from where is set once per request or command with :func:`acting`; the
record service and the account functions need not be told.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from formflow.storage.platform_tables import GENESIS_HASH, audit_entries, audit_head


@dataclass(frozen=True)
class Origin:
    """Who is acting and from where, as far as the code doing the act cannot tell."""

    user_id: int | None = None
    address: str | None = None
    channel: str = ""
    """How the act arrived: ``web``, ``api``, ``cli``, ``job`` (or empty when unknown)."""
    who: Callable[[], int | None] | None = None
    """Asked for the user when ``user_id`` is not given: a web request knows who signs in
    only once it reads the session, and most requests write nothing to the log."""

    def actor(self) -> int | None:
        if self.user_id is not None or self.who is None:
            return self.user_id
        return self.who()


_origin: ContextVar[Origin | None] = ContextVar("formflow_audit_origin", default=None)
_NOBODY = Origin()


@contextmanager
def acting(
    *,
    user_id: int | None = None,
    address: str | None = None,
    channel: str = "",
    who: Callable[[], int | None] | None = None,
) -> Iterator[Origin]:
    """Within the block, entries without their own user or address take these."""
    origin = Origin(user_id, address, channel, who)
    token = _origin.set(origin)
    try:
        yield origin
    finally:
        _origin.reset(token)


def origin() -> Origin:
    """Who acts now, as the innermost :func:`acting` block says."""
    return _origin.get() or _NOBODY


@dataclass(frozen=True)
class Entry:
    """One audit entry as stored."""

    id: int
    at: datetime
    user_id: int | None
    action: str
    app_key: str | None = None
    form_key: str | None = None
    record_id: int | None = None
    address: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    previous_hash: str = ""
    hash: str = ""

    def canonical(self) -> bytes:
        """The entry's content as the hash covers it: every column but the hashes, as
        JSON with sorted keys, the moment in UTC to the microsecond."""
        content = {
            "id": self.id,
            "at": utc(self.at).isoformat(timespec="microseconds"),
            "user_id": self.user_id,
            "action": self.action,
            "app_key": self.app_key,
            "form_key": self.form_key,
            "record_id": self.record_id,
            "address": self.address,
            "detail": self.detail,
        }
        return json.dumps(
            content, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    def expected_hash(self) -> str:
        return chain_hash(self.previous_hash, self.canonical())


def chain_hash(previous_hash: str, canonical: bytes) -> str:
    """SHA-256 over the previous entry's hash and this entry's canonical content."""
    return hashlib.sha256(previous_hash.encode() + b"\n" + canonical).hexdigest()


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; SQLite hands back naive values, which were stored as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def log(
    connection: Connection,
    action: str,
    *,
    user_id: int | None = None,
    app_key: str | None = None,
    form_key: str | None = None,
    record_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> Entry:
    """Append an entry for ``action`` in ``connection``'s transaction.

    ``user_id`` and the address default to those of the enclosing :func:`acting` block.
    ``detail`` must be JSON (keys of changed fields, a token's name...): never a secret,
    and never a field's value, which the record's own history keeps under field access.
    """
    now = origin()
    head = connection.execute(_ADVANCE_HEAD).one_or_none()
    if head is None:  # the very first entry of this instance
        _start_chain(connection)
        head = connection.execute(_ADVANCE_HEAD).one()
    entry = Entry(
        id=head.last_id,
        at=utc(at or datetime.now(UTC)),
        user_id=user_id if user_id is not None else now.actor(),
        action=str(action),
        app_key=app_key,
        form_key=form_key,
        record_id=record_id,
        address=now.address,
        detail={**(detail or {}), **({"via": now.channel} if now.channel else {})},
        previous_hash=head.last_hash,
    )
    digest = entry.expected_hash()
    connection.execute(
        _INSERT,
        {
            "id": entry.id,
            "at": entry.at,
            "user_id": entry.user_id,
            "action": entry.action,
            "app_key": entry.app_key,
            "form_key": entry.form_key,
            "record_id": entry.record_id,
            "address": entry.address,
            "detail": dict(entry.detail),
            "previous_hash": entry.previous_hash,
            "hash": digest,
        },
    )
    connection.execute(_SET_HEAD_HASH, {"digest": digest})
    return Entry(**{**entry.__dict__, "hash": digest})


_ADVANCE_HEAD = (  # the first statement of every append: takes the head's lock
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(last_id=audit_head.c.last_id + 1)
    .returning(audit_head.c.last_id, audit_head.c.last_hash)
)
_INSERT = insert(audit_entries)
_SET_HEAD_HASH = (
    update(audit_head).where(audit_head.c.id == 1).values(last_hash=bindparam("digest"))
)


def _start_chain(connection: Connection) -> None:
    """Make the head row; two first writers may race here, and the second finds it made."""
    dialect = connection.dialect.name
    values = {"id": 1, "last_id": 0, "last_hash": GENESIS_HASH}
    if dialect == "postgresql":
        connection.execute(pg_insert(audit_head).values(values).on_conflict_do_nothing())
    else:
        connection.execute(sqlite_insert(audit_head).values(values).on_conflict_do_nothing())


def head(connection: Connection) -> tuple[int, str]:
    """The number and hash of the newest entry (0 and the genesis hash before any)."""
    row = connection.execute(select(audit_head.c.last_id, audit_head.c.last_hash)).one_or_none()
    return (int(row.last_id), str(row.last_hash)) if row else (0, GENESIS_HASH)
