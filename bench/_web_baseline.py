"""The hand-written app bench/web.py measures Formflow against: Flask and SQLAlchemy Core.

Same database, same opportunity table and indexes; none of Formflow's layers (no app
definition, no access rules engine, no validation, no history, no templates beyond one
inline table). What it does keep, so the comparison is of like with like:

- who is asking: a bearer token looked up by its SHA-256 hash (API), or Flask's signed
  session cookie holding the user id (pages); the user's department scope comes from the
  ``users`` row, one indexed query, as a person writing this by hand would do;
- the list: WHERE deleted_at IS NULL AND stage = ? AND department IN (...), ORDER BY
  created_at DESC, id DESC, LIMIT n, and the total counted up to the same cap;
- the create: typed values, owner/department/times/version/search text, one INSERT.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, abort, jsonify, render_template_string, request, session
from sqlalchemy import func, insert, literal_column, select

from formflow.definitions import load_app
from formflow.records.query import TOTAL_CAP
from formflow.records.search import search_document
from formflow.storage.database import connect, write_transaction
from formflow.storage.platform_tables import api_tokens as tokens
from formflow.storage.platform_tables import departments, users
from formflow.storage.tables import DELETED_AT, DEPARTMENT, SEARCH, AppSchema

CENT = Decimal("0.01")
PAGE = """<!doctype html><title>Opportunities</title><p>{{ total }} found</p>
<table>{% for row in rows %}<tr><td><a href="/opportunity/{{ row.id }}">{{ row.name }}</a></td>
<td>{{ row.stage }}</td><td>{{ row.amount }}</td><td>{{ row.expected_close_date }}</td>
<td>{{ row.owner }}</td><td>{{ row.created_at }}</td></tr>{% endfor %}</table>"""
RECORD = """<!doctype html><title>{{ row.name }}</title><dl>{% for key, value in row.items() %}
<dt>{{ key }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>"""


def create_app(database_url: str, app_dir: str, secret: str) -> Flask:
    """The opportunity table is taken from the compiled app only for its column types."""
    engine = connect(database_url)
    t = AppSchema(load_app(app_dir)).table("opportunity")
    columns = [c for c in t.columns if not c.name.startswith("_")]
    app = Flask("baseline")
    app.secret_key = secret

    def scope(connection: Any, user_id: int) -> tuple[int, list[int]]:
        """The user's department and those under it (a manager sees their team's)."""
        department = connection.execute(
            select(users.c.department_id).where(users.c.id == user_id)
        ).scalar_one()
        below = connection.execute(
            select(departments.c.id).where(departments.c.parent_id == department)
        ).scalars()
        return department, [department, *below]

    def user_from_token(connection: Any) -> int:
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

    def user_from_session() -> int:
        if "uid" not in session:
            abort(401)
        return int(session["uid"])

    def page(connection: Any, user_id: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        _, visible = scope(connection, user_id)
        where = [t.c[DELETED_AT].is_(None), t.c[DEPARTMENT].in_(visible)]
        if request.args.get("stage"):
            where.append(t.c.stage == request.args["stage"])
        rows = connection.execute(
            select(*columns)
            .where(*where)
            .order_by(t.c.created_at.desc(), t.c.id.desc())
            .limit(limit)
        ).mappings()
        found = [dict(row) for row in rows]
        matching = select(literal_column("1")).select_from(t).where(*where).limit(TOTAL_CAP + 1)
        total = connection.execute(select(func.count()).select_from(matching.subquery()))
        return found, min(total.scalar_one(), TOTAL_CAP)

    @app.get("/login/<int:user_id>")
    def login(user_id: int) -> Any:  # the benchmark signs in once per connection
        session["uid"] = user_id
        return "ok"

    @app.get("/api/opportunity")
    def api_list() -> Any:
        with engine.connect() as connection:
            rows, total = page(connection, user_from_token(connection), 50)
        return jsonify({"data": [_plain(row) for row in rows], "total": total})

    @app.get("/opportunity/")
    def list_page() -> Any:
        with engine.connect() as connection:
            rows, total = page(connection, user_from_session(), 20)
        return render_template_string(PAGE, rows=rows, total=total)

    @app.get("/opportunity/<int:record_id>")
    def record_page(record_id: int) -> Any:
        with engine.connect() as connection:
            _, visible = scope(connection, user_from_session())
            row = (
                connection.execute(
                    select(*columns).where(
                        t.c.id == record_id, t.c[DELETED_AT].is_(None), t.c[DEPARTMENT].in_(visible)
                    )
                )
                .mappings()
                .one_or_none()
            )
        if row is None:
            abort(404)
        return render_template_string(RECORD, row=row)

    @app.post("/api/opportunity")
    def api_create() -> Any:
        body = request.get_json()
        now = datetime.now(UTC)
        amount, probability = Decimal(str(body["amount"])), Decimal(body["probability"])
        # BEGIN IMMEDIATE (what write_transaction asks SQLite for): a plain BEGIN reads the
        # token and user first and then fails with "database is locked" when two writers
        # both try to upgrade their read lock (419 of 1,146 creates at 8 connections).
        with write_transaction(engine) as connection:
            user = user_from_token(connection)
            department, _ = scope(connection, user)
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
                SEARCH: search_document([body["name"], body.get("description")]),
            }
            new_id = connection.execute(insert(t).values(row).returning(t.c.id)).scalar_one()
            created = connection.execute(select(*columns).where(t.c.id == new_id)).mappings().one()
        return jsonify(_plain(dict(created))), 201

    return app


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: str(value) if isinstance(value, (Decimal, date, datetime)) else value
        for key, value in row.items()
    }
