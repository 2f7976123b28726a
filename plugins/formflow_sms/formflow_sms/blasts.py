"""Blasts: one message, rendered per recipient, sent to the records a list filter picks.

A blast is written in one go: a row per matching record, ``queued`` when its number is a
valid mobile number and the record has not opted out, else ``skipped`` with the reason.
Sending takes the queued rows in order, throttled to the provider's rate: each is first
claimed (``sending``), so two senders never send one row, then marked ``sent`` (with the
provider's id) or ``failed`` (with the reason); a temporary failure is tried again up to
``attempts`` times. Sending runs as a plugin job (``sms.send_blast``), so a blast survives
a restart: the job runs again and carries on with the rows still queued; a row left
``sending`` by a worker that died is marked failed rather than risk a second message. A
delivery receipt marks a sent row ``delivered`` or ``failed``. Cancelling stops the rows not
yet sent. An e-mail address that bounced goes on the suppression list, and later e-mail
blasts skip it (``bounced before``) until an admin takes it off. The plugin keeps its own
tables.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from formflow.definitions.model import SortKey
from formflow.errors import FormflowError
from formflow.plugin_kit import ExpressionError, render_template
from formflow.records.access import Actor
from formflow.records.query import Query
from formflow.records.service import RecordService
from formflow.records.unit import unit_of_work
from formflow_sms.numbers import email_address, mobile
from formflow_sms.providers import Bounced, PermanentFailure, Provider, TemporaryFailure
from formflow_sms.segments import Count, count, signed

QUEUED, SENDING, SENT, DELIVERED, FAILED, SKIPPED, CANCELLED, BOUNCED = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "skipped",
    "cancelled",
    "bounced",
)
SEND_JOB = "sms.send_blast"
"""The plugin job that sends one blast (payload ``{"blast_id": ...}``)."""
SMS, EMAIL = "sms", "email"
"""A blast's channel (``channel`` is NULL on blasts written before e-mail blasts: SMS)."""
PAGE = 500
KEEP_ALIVE_SECONDS = 10.0
"""How often a long send tells its job it is still alive."""
INTERRUPTED_AFTER = timedelta(minutes=2)
"""A recipient ``sending`` this long was being sent when its worker died."""
INTERRUPTED = "interrupted while sending; not sent again to avoid a duplicate"

metadata = MetaData()
blasts = Table(
    "ffp_sms_blasts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("app_key", String(100), nullable=False),
    Column("form_key", String(100), nullable=False),
    Column("filter", JSON, nullable=False),
    Column("template", Text, nullable=False),
    Column("signature", String(40), nullable=False, default=""),
    Column("provider", String(40), nullable=False),
    Column("created_by", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("channel", String(10)),
    Column("subject", Text),
    Column("link_base", Text),
)
messages = Table(
    "ffp_sms_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("blast_id", Integer, ForeignKey("ffp_sms_blasts.id"), nullable=False),
    Column("record_id", Integer, nullable=False),
    Column("phone", String(40), nullable=False),
    Column("text", Text, nullable=False),
    Column("params", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("provider_id", String(100)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("address", String(320)),
    Index("ix_ffp_sms_messages_blast_status", "blast_id", "status"),
    Index("ix_ffp_sms_messages_provider_id", "provider_id"),
)
suppressions = Table(
    "ffp_email_suppressions",
    metadata,
    Column("address", String(320), primary_key=True),
    Column("reason", Text),
    Column("bounced_at", DateTime(timezone=True), nullable=False),
)
"""E-mail addresses that bounced, lower-cased: sending to them again only hurts the
sender's reputation, so blasts skip them until an admin removes one."""
BOUNCED_BEFORE = "bounced before"


class BlastError(FormflowError):
    """A blast that cannot be written: a template that does not render, an unknown field."""


def render(template: str, record: Mapping[str, Any]) -> str:
    """The template filled with a record's fields (``{{ name }}``), in the engine's
    budgeted sandbox: anyone who may read a form may write one, so a template that would
    build a huge text or loop for hours is refused like one that does not parse."""
    try:
        return render_template(template, record).strip()
    except ExpressionError as exc:
        raise BlastError(f"the message template does not render: {exc}") from None


@dataclass(frozen=True)
class Preview:
    record_id: int
    phone: str | None
    """The mobile number, or the e-mail address of an e-mail blast."""
    text: str
    count: Count
    subject: str = ""


@dataclass(frozen=True)
class Summary:
    total: int
    by_status: Mapping[str, int]
    reasons: Mapping[str, int]
    cancelled: bool

    def __getitem__(self, status: str) -> int:
        return self.by_status.get(status, 0)


class Blasts:
    """The blasts of one instance's database, written from one app's records."""

    def __init__(self, engine: Engine, *, opt_out_field: str = "sms_opt_out") -> None:
        self.engine = engine
        self.opt_out_field = opt_out_field
        _create_tables(engine)

    def queue_one(
        self,
        connection: Connection,
        app_key: str,
        form_key: str,
        record: Mapping[str, Any],
        *,
        phone_field: str,
        template: str,
        signature: str = "",
        provider: str = "outbox",
        user_id: int | None = None,
    ) -> int:
        """A blast to one record, written on ``connection`` (an automation run's unit of
        work, so it exists exactly when the run commits); its id."""
        now = datetime.now(UTC)
        written = connection.execute(
            insert(blasts).values(
                app_key=app_key,
                form_key=form_key,
                filter={"field": "id", "op": "eq", "value": record["id"]},
                template=template,
                signature=signature,
                provider=provider,
                created_by=user_id,
                created_at=now,
            )
        ).inserted_primary_key
        assert written is not None
        blast_id = int(written[0])
        connection.execute(
            insert(messages), [self._row(blast_id, record, phone_field, template, signature, now)]
        )
        return blast_id

    def waiting(self) -> list[int]:
        """The blasts not cancelled that have recipients still queued, oldest first."""
        with self.engine.connect() as connection:
            return [
                int(blast_id)
                for blast_id in connection.execute(
                    select(blasts.c.id)
                    .where(
                        blasts.c.cancelled_at.is_(None),
                        select(messages.c.id)
                        .where(messages.c.blast_id == blasts.c.id, messages.c.status == QUEUED)
                        .exists(),
                    )
                    .order_by(blasts.c.id)
                ).scalars()
            ]

    def matching(
        self, records: RecordService, actor: Actor, form_key: str, filter: Mapping[str, Any]
    ) -> Iterator[dict[str, Any]]:
        """Every record the filter picks that ``actor`` may read, page by page."""
        cursor: str | None = None
        while True:
            page = records.find(
                actor,
                form_key,
                Query(
                    filter=dict(filter),
                    sort=(SortKey("id", False),),
                    limit=PAGE,
                    cursor=cursor,
                    with_total=False,
                ),
            )
            yield from page.rows
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def preview(
        self,
        records: RecordService,
        actor: Actor,
        form_key: str,
        filter: Mapping[str, Any],
        *,
        phone_field: str,
        template: str,
        signature: str = "",
        size: int = 3,
        channel: str = SMS,
        subject: str | None = None,
    ) -> list[Preview]:
        """The message as the first ``size`` recipients would get it, with its length;
        records that would be skipped are left out."""
        found = []
        reach = email_address if channel == EMAIL else mobile
        for record in self.matching(records, actor, form_key, filter):
            address = reach(record.get(phone_field))
            if record.get(self.opt_out_field) or address is None:
                continue
            if channel == EMAIL and self._is_suppressed(address):
                continue
            text = render(template, record)
            found.append(
                Preview(
                    int(record["id"]),
                    reach(record.get(phone_field)),
                    text,
                    count(text, signature),
                    render(subject, record) if subject else "",
                )
            )
            if len(found) >= size:
                break
        return found

    def _is_suppressed(self, address: str) -> bool:
        with self.engine.connect() as connection:
            return bool(_suppressed(connection, [address]))

    def create(
        self,
        records: RecordService,
        actor: Actor,
        app_key: str,
        form_key: str,
        filter: Mapping[str, Any],
        *,
        phone_field: str,
        template: str,
        signature: str = "",
        provider: str = "outbox",
        channel: str = SMS,
        subject: str | None = None,
        link_base: str | None = None,
    ) -> int:
        """Write a blast and a row per recipient, in the caller's unit of work if one is
        open (so a job to send it can be enqueued in the same unit); its id. ``link_base``
        is the unsubscribe route's address, for an e-mail blast's links."""
        now = datetime.now(UTC)
        with unit_of_work(self.engine) as unit:
            connection = unit.connection
            written = connection.execute(
                insert(blasts).values(
                    app_key=app_key,
                    form_key=form_key,
                    filter=dict(filter),
                    template=template,
                    signature=signature,
                    provider=provider,
                    created_by=actor.user_id,
                    created_at=now,
                    channel=channel,
                    subject=subject,
                    link_base=link_base,
                )
            ).inserted_primary_key
            assert written is not None
            blast_id = int(written[0])
            for page in _pages(self.matching(records, actor, form_key, filter)):
                suppressed = (
                    _suppressed(connection, (record.get(phone_field) for record in page))
                    if channel == EMAIL
                    else frozenset()
                )
                connection.execute(
                    insert(messages),
                    [
                        self._row(
                            blast_id,
                            record,
                            phone_field,
                            template,
                            signature,
                            now,
                            channel,
                            subject,
                            suppressed,
                        )
                        for record in page
                    ],
                )
        return blast_id

    def bounced_addresses(
        self, containing: str = "", limit: int | None = None
    ) -> list[tuple[str, str | None, datetime]]:
        """The suppression list: each address that bounced, why and when, newest first;
        only addresses ``containing`` the given text (any case), at most ``limit``."""
        query = select(
            suppressions.c.address, suppressions.c.reason, suppressions.c.bounced_at
        ).order_by(suppressions.c.bounced_at.desc(), suppressions.c.address)
        if containing.strip():
            query = query.where(
                suppressions.c.address.contains(containing.strip().lower(), autoescape=True)
            )
        with self.engine.connect() as connection:
            return [
                (str(address), reason, bounced_at)
                for address, reason, bounced_at in connection.execute(query.limit(limit))
            ]

    def forget_bounce(self, address: str) -> bool:
        """Take an address off the suppression list (its owner fixed their mailbox), so
        later blasts send to it again; whether it was on the list."""
        with self.engine.begin() as connection:
            removed = connection.execute(
                suppressions.delete().where(suppressions.c.address == address.strip().lower())
            )
        return bool(removed.rowcount)

    def _row(
        self,
        blast_id: int,
        record: Mapping[str, Any],
        phone_field: str,
        template: str,
        signature: str,
        now: datetime,
        channel: str = SMS,
        subject: str | None = None,
        suppressed: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        raw = record.get(phone_field)
        email = channel == EMAIL
        reached = email_address(raw) if email else mobile(raw)
        status, reason, text = QUEUED, None, ""
        if record.get(self.opt_out_field):
            status, reason = SKIPPED, "opted out"
        elif reached is None:
            status, reason = SKIPPED, "invalid address" if email else "invalid number"
        elif email and reached.lower() in suppressed:
            status, reason = SKIPPED, BOUNCED_BEFORE
        else:
            text = (
                render(template, record) if email else signed(render(template, record), signature)
            )
        params = {key: value for key, value in record.items() if isinstance(value, str | int)}
        return {
            "blast_id": blast_id,
            "record_id": int(record["id"]),
            "phone": "" if email else reached or str(raw or "")[:40],
            "address": (reached or str(raw or "")[:320]) if email else None,
            "text": text,
            "params": params,
            "status": status,
            "reason": reason,
            "attempts": 0,
            "updated_at": now,
        }

    def send(
        self,
        blast_id: int,
        provider: Provider,
        *,
        per_second: float = 10.0,
        attempts: int = 3,
        retry_wait: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        limit: int | None = None,
        keep_alive: Callable[[], bool] | None = None,
    ) -> int:
        """Send the blast's queued rows (at most ``limit``), ``per_second`` at most; how
        many were sent. Stops as soon as the blast is cancelled, or when ``keep_alive``
        (called every few seconds) says the job running it lost its lease."""
        gap = 1.0 / per_second if per_second > 0 else 0.0
        done = 0
        alive_at = time.monotonic()
        while limit is None or done < limit:
            if self._cancelled(blast_id):
                return done
            if keep_alive is not None and time.monotonic() - alive_at >= KEEP_ALIVE_SECONDS:
                if not keep_alive():
                    return done
                alive_at = time.monotonic()
            with self.engine.connect() as connection:
                row = connection.execute(
                    select(messages)
                    .where(messages.c.blast_id == blast_id, messages.c.status == QUEUED)
                    .order_by(messages.c.id)
                    .limit(1)
                ).first()
            if row is None:
                return done
            if not self._claim(row.id):
                continue  # another sender took it
            self._send_one(row, provider, attempts, retry_wait, sleep)
            done += 1
            if gap:
                sleep(gap)
        return done

    def _send_one(
        self,
        row: Any,
        provider: Provider,
        attempts: int,
        retry_wait: float,
        sleep: Callable[[float], None],
    ) -> None:
        tried = int(row.attempts)
        while True:
            tried += 1
            try:
                provider_id = provider.send(row.address or row.phone, row.text, row.params or {})
            except TemporaryFailure as exc:
                if tried < attempts:
                    sleep(retry_wait * 2 ** (tried - 1))
                    continue
                self._mark(row.id, FAILED, tried, reason=str(exc))
                return
            except PermanentFailure as exc:
                bounced = isinstance(exc, Bounced)
                self._mark(row.id, BOUNCED if bounced else FAILED, tried, reason=str(exc))
                if bounced and row.address:
                    with self.engine.begin() as connection:
                        _suppress(connection, [row.address], str(exc))
                return
            self._mark(row.id, SENT, tried, provider_id=provider_id)
            return

    def _claim(self, message_id: int) -> bool:
        with self.engine.begin() as connection:
            taken = connection.execute(
                update(messages)
                .where(messages.c.id == message_id, messages.c.status == QUEUED)
                .values(status=SENDING, updated_at=datetime.now(UTC))
            )
        return bool(taken.rowcount)

    def release_interrupted(self, blast_id: int, now: datetime | None = None) -> int:
        """Mark failed the rows a dead worker left ``sending``: whether their message went
        out is unknown, and a second one is worse than none. How many."""
        moment = now or datetime.now(UTC)
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(messages)
                .where(
                    messages.c.blast_id == blast_id,
                    messages.c.status == SENDING,
                    messages.c.updated_at < moment - INTERRUPTED_AFTER,
                )
                .values(status=FAILED, reason=INTERRUPTED, updated_at=moment)
            )
        return int(changed.rowcount)

    def _mark(
        self,
        message_id: int,
        status: str,
        attempts: int,
        *,
        reason: str | None = None,
        provider_id: str | None = None,
    ) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(messages)
                .where(messages.c.id == message_id, messages.c.status == SENDING)
                .values(
                    status=status,
                    attempts=attempts,
                    reason=reason,
                    provider_id=provider_id,
                    updated_at=datetime.now(UTC),
                )
            )

    def receipt(
        self, provider_id: str, delivered: bool, reason: str = "", *, bounced: bool = False
    ) -> bool:
        """A delivery receipt: the sent message with that provider id is now delivered, or
        failed (``bounced``: an e-mail address that does not take mail) with the reason;
        whether one was found. A bounce may follow a delivery, as mail servers report
        late."""
        shown: str | None
        if bounced:
            status, shown = BOUNCED, reason or "bounced"
        else:
            status, shown = (DELIVERED, None) if delivered else (FAILED, reason or "not delivered")
        still = (SENT, DELIVERED) if bounced else (SENT,)
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(messages)
                .where(messages.c.provider_id == provider_id, messages.c.status.in_(still))
                .values(status=status, reason=shown, updated_at=datetime.now(UTC))
            )
            if bounced and changed.rowcount:
                addresses = connection.execute(
                    select(messages.c.address).where(
                        messages.c.provider_id == provider_id, messages.c.address.is_not(None)
                    )
                ).scalars()
                _suppress(connection, list(addresses), shown)
            return bool(changed.rowcount)

    def cancel(self, blast_id: int) -> int:
        """Stop a blast: its rows still queued become cancelled; how many."""
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            connection.execute(
                update(blasts)
                .where(blasts.c.id == blast_id, blasts.c.cancelled_at.is_(None))
                .values(cancelled_at=now)
            )
            changed = connection.execute(
                update(messages)
                .where(messages.c.blast_id == blast_id, messages.c.status == QUEUED)
                .values(status=CANCELLED, updated_at=now)
            )
            return int(changed.rowcount)

    def get(self, blast_id: int) -> Any:
        """The blast's row (its channel, subject, template...), or ``None``."""
        with self.engine.connect() as connection:
            return connection.execute(blasts.select().where(blasts.c.id == blast_id)).first()

    def _cancelled(self, blast_id: int) -> bool:
        with self.engine.connect() as connection:
            return (
                connection.execute(
                    select(blasts.c.cancelled_at).where(blasts.c.id == blast_id)
                ).scalar()
                is not None
            )

    def summary(self, blast_id: int) -> Summary:
        """How many recipients are in each status, and why they failed or were skipped."""
        with self.engine.connect() as connection:
            by_status = {
                str(status): int(n)
                for status, n in connection.execute(
                    select(messages.c.status, func.count())
                    .where(messages.c.blast_id == blast_id)
                    .group_by(messages.c.status)
                )
            }
            reasons = {
                str(reason): int(n)
                for reason, n in connection.execute(
                    select(messages.c.reason, func.count())
                    .where(messages.c.blast_id == blast_id, messages.c.reason.is_not(None))
                    .group_by(messages.c.reason)
                )
            }
            cancelled = self._cancelled(blast_id)
        return Summary(sum(by_status.values()), by_status, reasons, cancelled)

    def statuses(self, blast_id: int) -> dict[int, str]:
        """Each recipient record's status."""
        with self.engine.connect() as connection:
            return {
                int(record_id): str(status)
                for record_id, status in connection.execute(
                    select(messages.c.record_id, messages.c.status).where(
                        messages.c.blast_id == blast_id
                    )
                )
            }


def _pages(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    page: list[dict[str, Any]] = []
    for row in rows:
        page.append(row)
        if len(page) >= PAGE:
            yield page
            page = []
    if page:
        yield page


def _suppressed(connection: Connection, values: Iterable[object]) -> frozenset[str]:
    """Which of these addresses (lower-cased) are on the suppression list."""
    wanted = {address.lower() for value in values if (address := email_address(value))}
    if not wanted:
        return frozenset()
    return frozenset(
        connection.execute(
            select(suppressions.c.address).where(suppressions.c.address.in_(wanted))
        ).scalars()
    )


def _suppress(connection: Connection, addresses: Iterable[str], reason: str | None) -> None:
    """Put bounced addresses on the suppression list; those already there (even put there
    by a receipt racing this one) stay as they are."""
    wanted = sorted({address.strip().lower() for address in addresses if address})
    if not wanted:
        return
    dialect = connection.dialect.name
    adding = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(suppressions)
    now = datetime.now(UTC)
    connection.execute(
        adding.on_conflict_do_nothing(index_elements=[suppressions.c.address]),
        [{"address": address, "reason": reason, "bounced_at": now} for address in wanted],
    )


_READY: weakref.WeakSet[Engine] = weakref.WeakSet()


def _create_tables(engine: Engine) -> None:
    """Create the plugin's tables, and add the columns later versions added (e-mail
    blasts' ``channel``, ``subject`` and ``address``) to tables made before them; once
    an engine."""
    if engine in _READY:
        return
    metadata.create_all(engine)
    with engine.begin() as connection:
        inspector = inspect(connection)
        operations = Operations(MigrationContext.configure(connection))
        for table in (blasts, messages):
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    operations.add_column(table.name, column._copy())
    _READY.add(engine)
