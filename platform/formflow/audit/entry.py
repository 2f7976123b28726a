"""An audit entry and the hash that chains it to the one before.

The hash covers the entry's canonical content (:meth:`Entry.canonical`): JSON with sorted
keys. Python hashes it when it chains entries itself; PostgreSQL hashes it when it
numbers a single entry under the head's lock (:mod:`formflow.audit.locked`), from the
canonical text split around the id (:meth:`Entry.canonical_around_id`), which only the
database knows then. Both give the same bytes, which :mod:`formflow.audit.verify` checks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


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
        return self._canonical_text(self.id).encode()

    def canonical_around_id(self) -> tuple[str, str]:
        """The canonical text before and after the id's digits, for a database that
        numbers the entry to join them around its id.

        The keys are sorted, so the top-level ``"id"`` is followed by ``"record_id"`` and
        ``"user_id"`` alone, whose values are numbers or null: the last ``"id":0,`` before
        ``"record_id"`` is the entry's own, whatever keys ``detail`` nests (inside a
        string, JSON escapes every quote)."""
        before, _mark, after = self._canonical_text(0).rpartition(_ID_MARK)
        return before + '"id":', ',"record_id":' + after

    def expected_hash(self) -> str:
        return chain_hash(self.previous_hash, self.canonical())

    def row(self) -> dict[str, Any]:
        """The entry as a row of ``ff_audit_entries``."""
        return {
            **self._content(),
            "detail": dict(self.detail),
            "previous_hash": self.previous_hash,
            "hash": self.hash,
        }

    def _content(self) -> dict[str, Any]:
        """Every column the hash covers, as stored: the row but for the hashes, and the
        canonical text once the id and the moment are written as it writes them."""
        return {
            "id": self.id,
            "at": self.at,
            "user_id": self.user_id,
            "action": self.action,
            "app_key": self.app_key,
            "form_key": self.form_key,
            "record_id": self.record_id,
            "address": self.address,
            "detail": self.detail,
        }

    def _canonical_text(self, number: int) -> str:
        content = {
            **self._content(),
            "id": number,
            "at": utc(self.at).isoformat(timespec="microseconds"),
        }
        return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_ID_MARK = '"id":0,"record_id":'


def chain_hash(previous_hash: str, canonical: bytes) -> str:
    """SHA-256 over the previous entry's hash and this entry's canonical content."""
    return hashlib.sha256(previous_hash.encode() + b"\n" + canonical).hexdigest()


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; SQLite hands back naive values, which were stored as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
