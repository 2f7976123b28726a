"""The smallest endpoints bench/web.py --against minimal measures Formflow's API against.

What a developer would write to answer exactly one question about opportunities, in Flask
and SQLAlchemy Core, on the same database, table and indexes: a bearer token looked up by
its SHA-256 hash (an API without authentication would not be a fair rival), then one
statement for the answer, returning only the eight columns a list shows. No definition
interpreter, no access rules beyond the token, no validation beyond parsing, no audit:

- ``GET /min/opportunity/<id>``: one record;
- ``GET /min/opportunity?stage=S&owner=U[&total=0]``: 50 newest by ``created_at`` with the
  total (counted up to the same cap Formflow counts to) unless ``total=0``;
- ``POST /min/opportunity``: the typed values, owner, department, times and version in one
  INSERT ... RETURNING.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, abort, jsonify, request
from sqlalchemy import func, insert, select

from formflow.definitions import load_app
from formflow.records.query import TOTAL_CAP
from formflow.storage.database import connect, write_transaction
from formflow.storage.platform_tables import api_tokens as tokens
from formflow.storage.platform_tables import users
from formflow.storage.tables import DELETED_AT, DEPARTMENT, AppSchema

CENT = Decimal("0.01")
COLUMNS = ("name", "customer", "stage", "amount", "probability", "expected_close_date", "owner")
PAGE = 50


def create_app(database_url: str, app_dir: str, secret: str) -> Flask:
    engine = connect(database_url)
    t = AppSchema(load_app(app_dir)).table("opportunity")
    shown = [t.c.id, *(t.c[key] for key in COLUMNS), t.c.updated_at]
    live = t.c[DELETED_AT].is_(None)
    app = Flask("minimal")
    app.secret_key = secret

    def caller(connection: Any) -> int:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            abort(401)
        digest = hashlib.sha256(header[7:].encode()).hexdigest()
        found = connection.execute(
            select(tokens.c.user_id).where(tokens.c.token_hash == digest)
        ).scalar_one_or_none()
        if found is None:
            abort(401)
        return int(found)

    @app.get("/min/opportunity/<int:record_id>")
    def one(record_id: int) -> Any:
        with engine.connect() as connection:
            caller(connection)
            row = connection.execute(select(*shown).where(t.c.id == record_id, live)).first()
        if row is None:
            abort(404)
        return jsonify(_plain(row._asdict()))

    @app.get("/min/opportunity")
    def page() -> Any:
        where = [live, t.c.stage == request.args["stage"], t.c.owner == int(request.args["owner"])]
        with engine.connect() as connection:
            caller(connection)
            rows = connection.execute(
                select(*shown).where(*where).order_by(t.c.created_at.desc()).limit(PAGE)
            ).all()
            answer: dict[str, Any] = {"records": [_plain(row._asdict()) for row in rows]}
            if request.args.get("total") != "0":
                capped = select(t.c.id).where(*where).limit(TOTAL_CAP).subquery()
                answer["total"] = connection.execute(
                    select(func.count()).select_from(capped)
                ).scalar_one()
        return jsonify(answer)

    @app.post("/min/opportunity")
    def create() -> Any:
        body = request.get_json()
        now = datetime.now(UTC)
        amount, probability = Decimal(str(body["amount"])), Decimal(body["probability"])
        with write_transaction(engine) as connection:
            user = caller(connection)
            department = connection.execute(
                select(users.c.department_id).where(users.c.id == user)
            ).scalar_one()
            row = {
                **body,
                "amount": amount,
                "probability": probability,
                "weighted_amount": (amount * probability / 100).quantize(CENT),
                "expected_close_date": date.fromisoformat(body["expected_close_date"]),
                "owner": user,
                "created_at": now,
                "updated_at": now,
                "created_by": user,
                "updated_by": user,
                "version": 1,
                DEPARTMENT: department,
            }
            created = connection.execute(insert(t).values(row).returning(*shown)).one()
        return jsonify(_plain(created._asdict())), 201

    return app


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: str(value) if isinstance(value, (Decimal, date, datetime)) else value
        for key, value in row.items()
    }
