"""Webhook calls: queued in the run's unit of work, sent after the commit, retried.

An HTTP call cannot be rolled back, so it is never made inside a transaction: the action
writes the rendered body as a *pending* call beside the run's other changes, and a job
sends it once they are committed. A call that fails (no answer, or not a 2xx) is tried
again with a back-off that doubles each time, and after ``attempts`` tries is marked
*failed* with the last error, for an admin to see; the receiver tells a repeat by the
``X-Formflow-Delivery`` header (the call's id).

The body is signed when the rule names an environment variable holding a key: the header
``X-Formflow-Signature: sha256=<hex>`` is the HMAC-SHA256 of the body's bytes with that
key, so the key never sits in the YAML or in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from formflow.actions import ActionError
from formflow.automations import destinations
from formflow.config import IPNetwork
from formflow.errors import FormflowError
from formflow.expressions import ExpressionEngine, ExpressionError
from formflow.records.audit import jsonable
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import webhook_calls

logger = logging.getLogger(__name__)

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
SIGNATURE_HEADER = "X-Formflow-Signature"
DELIVERY_HEADER = "X-Formflow-Delivery"
ATTEMPTS = 8
"""Tries before a call is given up: about 20 minutes of back-off from 10 seconds."""
TIMEOUT_SECONDS = 10.0


class WebhookFailed(FormflowError):
    """A call that did not get a 2xx answer; raised so the job is tried again."""


def queue_call(
    connection: Connection,
    expressions: ExpressionEngine,
    *,
    app_key: str,
    source: str,
    url: str,
    body: str,
    secret_env: str | None,
    names: Mapping[str, Any],
    now: datetime | None,
) -> int:
    """Render ``body`` over ``names`` (in the sandbox, on its budget) and write a pending
    call; its id."""
    try:
        rendered = expressions.render(body, jsonable(dict(names)))
    except ExpressionError as exc:
        raise ActionError(f"the webhook body failed: {exc}") from None
    try:
        json.loads(rendered)
    except ValueError as exc:
        raise ActionError(f"the webhook body is not JSON: {exc}") from None
    call_id: int = connection.execute(
        insert(webhook_calls).returning(webhook_calls.c.id),
        {
            "app_key": app_key,
            "automation_key": source[:63],
            "url": url,
            "body": rendered,
            "secret_env": secret_env,
            "status": PENDING,
            "attempts": 0,
            "created_at": now or datetime.now(UTC),
        },
    ).scalar_one()
    return call_id


def signature(key: bytes, body: bytes) -> str:
    """The signature header's value for ``body``: what a receiver recomputes to check it."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def send(
    engine: Engine,
    call_id: int,
    *,
    attempts: int = ATTEMPTS,
    networks: Collection[IPNetwork] = (),
) -> str:
    """Send one call unless it was sent already; returns its status. Raises
    :class:`WebhookFailed` when it failed and has tries left, so the job retries.

    Only to an address on the internet or in ``networks`` (see
    :mod:`formflow.automations.destinations`); a call to another is given up at once,
    as trying again would not change where it goes."""
    with engine.connect() as connection:
        row = connection.execute(select(webhook_calls).where(webhook_calls.c.id == call_id)).first()
    if row is None or row.status != PENDING:
        return "missing" if row is None else str(row.status)
    body = row.body.encode("utf-8")
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: str(call_id)}
    if row.secret_env:
        key = os.environ.get(row.secret_env)
        if key is None:
            return _fail(
                engine, call_id, row.attempts, f"no {row.secret_env} in the environment", 1
            )
        headers[SIGNATURE_HEADER] = signature(key.encode("utf-8"), body)
    request = urllib.request.Request(row.url, data=body, headers=headers, method="POST")
    try:
        with destinations.opener(networks).open(request, timeout=TIMEOUT_SECONDS) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the answer's socket
        return _fail(engine, call_id, row.attempts, f"HTTP {exc.code}", attempts)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, destinations.DestinationRefused):
            return _fail(engine, call_id, row.attempts, f"refused: {exc.reason}", 1)
        return _fail(engine, call_id, row.attempts, f"no answer: {exc}", attempts)
    except OSError as exc:
        return _fail(engine, call_id, row.attempts, f"no answer: {exc}", attempts)
    if not 200 <= status < 300:
        return _fail(engine, call_id, row.attempts, f"HTTP {status}", attempts)
    with write_transaction(engine) as connection:
        connection.execute(
            update(webhook_calls)
            .where(webhook_calls.c.id == call_id)
            .values(status=SENT, attempts=row.attempts + 1, sent_at=datetime.now(UTC))
        )
    return SENT


def _fail(engine: Engine, call_id: int, tried: int, error: str, attempts: int) -> str:
    tried += 1
    status = FAILED if tried >= attempts else PENDING
    with write_transaction(engine) as connection:
        connection.execute(
            update(webhook_calls)
            .where(webhook_calls.c.id == call_id)
            .values(status=status, attempts=tried, last_error=error)
        )
    if status == FAILED:
        logger.error("webhook call %s given up after %s attempts: %s", call_id, tried, error)
        return FAILED
    raise WebhookFailed(f"webhook call {call_id} failed (attempt {tried}): {error}")


def untried_calls(engine: Engine, before: datetime) -> list[int]:
    """Pending calls queued before ``before`` and never tried, oldest first: their job was
    lost, or nobody sent them (a workflow's webhook action); the clock sends them."""
    with engine.connect() as connection:
        found = connection.execute(
            select(webhook_calls.c.id)
            .where(
                webhook_calls.c.status == PENDING,
                webhook_calls.c.attempts == 0,
                webhook_calls.c.created_at < before,
            )
            .order_by(webhook_calls.c.id)
            .limit(1000)
        ).scalars()
        return [int(call_id) for call_id in found]
