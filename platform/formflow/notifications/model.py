"""What a notification is, who receives it, and what a channel must offer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Row

from formflow.definitions.model import Label
from formflow.errors import render
from formflow.storage.rows import from_row


@dataclass(frozen=True)
class Notification:
    """One thing one person is told.

    ``title`` and ``body`` are English message ids filled in with ``params`` (the engine's
    own notifications, shown in the reader's language), or finished text (an automation's,
    rendered from its templates) when ``params`` is empty. ``app_key``, ``form_key`` and
    ``record_id`` point at the record it is about, ``task_id`` at the task, if any.
    """

    id: int
    user_id: int
    kind: str
    title: str
    body: str
    params: Mapping[str, Any] = field(default_factory=dict)
    app_key: str | None = None
    form_key: str | None = None
    record_id: int | None = None
    task_id: int | None = None
    created_at: datetime | None = None
    read_at: datetime | None = None

    @property
    def unread(self) -> bool:
        return self.read_at is None

    def text(self, translate: Any = None, language: str = "en") -> tuple[str, str]:
        """The title and body in ``language``; ``translate`` maps a message id to its
        translation (a catalogue's ``ugettext``), the English id when not given."""
        if not self.params:
            return self.title, self.body

        shown = {key: _in(value, language) for key, value in self.params.items()}

        def one(message: str) -> str:
            if not message:
                return ""
            translated = translate(message) if translate else message
            try:
                return render(translated, shown)
            except (KeyError, ValueError, TypeError):
                return render(message, shown)

        return one(self.title), one(self.body)

    @classmethod
    def from_row(cls, row: Row[Any]) -> Notification:
        return from_row(cls, row, id=int(row.id), user_id=int(row.user_id), params=row.params or {})


def _in(value: Any, language: str) -> Any:
    """A parameter as shown in ``language``: a label is kept as ``{"zh": .., "en": ..}``."""
    if isinstance(value, Mapping) and ("zh" in value or "en" in value):
        return value.get(language) or value.get("en") or value.get("zh") or ""
    return value


def label_param(label: Label | str | None) -> Any:
    """A definition label as a notification keeps it among its parameters."""
    if isinstance(label, Label):
        return {"zh": label.text("zh"), "en": label.text("en")}
    return label or ""


@dataclass(frozen=True)
class Recipient:
    """The person a channel sends a notification to, as their account says."""

    id: int
    username: str
    display_name: str
    email: str | None
    language: str


@runtime_checkable
class Channel(Protocol):
    """A way to tell people outside the app, which a plugin may add.

    ``key`` names it (unique, short: it is stored with each notification sent on it),
    ``label`` is what administrators read. ``send`` delivers one notification to one
    person, or raises to be tried again later with back-off; it returns ``False`` when the
    channel has no way to reach this person (no address), which counts as done. It runs in
    a background job after the cause committed, never inside a transaction.
    """

    key: str
    label: Label

    def send(self, notification: Notification, recipient: Recipient) -> bool: ...
