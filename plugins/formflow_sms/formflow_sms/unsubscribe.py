"""Unsubscribing from e-mail blasts: a signed link in every message, honoured at once.

Each e-mail carries a link (and the ``List-Unsubscribe`` headers mail programs show as a
button, one-click as RFC 8058 describes) naming its blast and recipient record, signed with
the instance's secret so nobody can unsubscribe someone else by guessing. Following it sets
the record's e-mail opt-out field through the record service, so the change is audited like
any other, and the recipient's messages still queued in any blast of that form are skipped
there and then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update

from formflow.config import instance_secret
from formflow.errors import FormflowError
from formflow.records.access import Actor
from formflow_sms.blasts import EMAIL, QUEUED, SKIPPED, blasts, messages

SALT = "formflow-sms-unsubscribe"
OPTED_OUT = "opted out"


class BadUnsubscribeLink(FormflowError):
    """A link that was not made by this instance, or was changed on the way."""


@dataclass(frozen=True)
class Subscription:
    """Whom an unsubscribe link is about: a recipient record of a blast's form."""

    blast_id: int
    record_id: int


def _signer(instance: Any) -> URLSafeSerializer:
    return URLSafeSerializer(instance_secret(instance.settings), salt=SALT)


def link_maker(instance: Any, blast_id: int, base: str) -> Callable[[Mapping[str, Any]], str]:
    """The unsubscribe link of each recipient of ``blast_id`` (by their record's ``id``),
    under ``base``, the route's address as the blast's sender saw it."""
    signer = _signer(instance)
    return lambda record: base + str(signer.dumps([blast_id, int(record["id"])]))


def read_link(instance: Any, token: str) -> Subscription:
    """The subscription a link's token names; :class:`BadUnsubscribeLink` when forged."""
    try:
        blast_id, record_id = _signer(instance).loads(token)
        return Subscription(int(blast_id), int(record_id))
    except (BadSignature, TypeError, ValueError):
        raise BadUnsubscribeLink("this unsubscribe link is not valid") from None


def unsubscribe(instance: Any, subscription: Subscription, opt_out_field: str) -> bool:
    """Opt the recipient's record out of e-mail blasts and skip their messages still
    queued; False when the blast or the record is gone (nothing left to do)."""
    with instance.engine.connect() as connection:
        blast = connection.execute(
            select(blasts.c.app_key, blasts.c.form_key).where(blasts.c.id == subscription.blast_id)
        ).first()
    if blast is None:
        return False
    records = instance.records(blast.app_key)
    record = records.stored(blast.form_key, subscription.record_id)
    if record is None:
        return False
    if not record.get(opt_out_field):
        records.update(
            Actor.system(),
            blast.form_key,
            subscription.record_id,
            {opt_out_field: True},
            expected_version=record["version"],
            grant=(opt_out_field,),
        )
    same_form = select(blasts.c.id).where(
        blasts.c.app_key == blast.app_key,
        blasts.c.form_key == blast.form_key,
        blasts.c.channel == EMAIL,
    )
    with instance.engine.begin() as connection:
        connection.execute(
            update(messages)
            .where(
                messages.c.record_id == subscription.record_id,
                messages.c.status == QUEUED,
                messages.c.blast_id.in_(same_form),
            )
            .values(status=SKIPPED, reason=OPTED_OUT, updated_at=datetime.now(UTC))
        )
    return True
