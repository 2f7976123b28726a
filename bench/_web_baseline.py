"""The hand-written app bench/web.py measures Formflow against: Flask and SQLAlchemy Core.

Same database, same tables and indexes; none of Formflow's layers (no definition
interpreter, no access-rule engine, no validation, no generic templates). It does the same
*work* as the Formflow page or endpoint it stands beside, written the way a person would
write it for this one form, so the comparison is of like with like:

- who is asking: a bearer token looked up by its SHA-256 hash (API), or Flask's signed
  session cookie holding the user id (pages); then the user's row and the departments
  under theirs, as the sales manager's department scope needs;
- the list page: the page of 20 with customer and owner names joined in (a customer outside
  the reader's scope stays unnamed, as in Formflow), the total counted up to the same cap,
  the active users for the owner filter, the user's saved views; a layout with navigation,
  filters and the table, values shown as Formflow shows them (option labels, money, dates);
- the record page: the record with its links' titles joined in, the first records of each
  of the four forms that link to it, its audit history with who made each change, all
  fields with their labels;
- the API list: the page of 50 and the capped total, as JSON;
- the create: typed values, owner/department/times/version/search text, one INSERT.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import format_currency
from flask import Flask, abort, jsonify, request, session
from markupsafe import Markup
from sqlalchemy import Table, and_, func, insert, literal_column, select

from formflow.definitions import load_app
from formflow.records.query import TOTAL_CAP
from formflow.records.search import search_document
from formflow.storage.database import connect, read_transaction, write_transaction
from formflow.storage.platform_tables import api_tokens as tokens
from formflow.storage.platform_tables import audit_log, departments, saved_views, users
from formflow.storage.tables import DELETED_AT, DEPARTMENT, SEARCH, AppSchema

CENT = Decimal("0.01")
ZONE = ZoneInfo("Asia/Shanghai")
CHINESE = Locale.parse("zh_CN")
RELATED = {  # form: (link field, title field, newest first by)
    "contract": ("opportunity", "name", "created_at"),
    "follow_up": ("opportunity", "content", "followed_at"),
    "lead": ("converted_opportunity", "company", "created_at"),
    "quote": ("opportunity", "number", "created_at"),
}
LIST_FIELDS = ("name", "customer", "stage", "amount", "probability", "expected_close_date", "owner")
LINKS = {"customer": "name", "contact": "name", "competitor": "name", "lead": "company"}

LAYOUT = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<link rel="stylesheet" href="/static/app.css"></head><body>
<header><a href="/">Formflow</a> <span>{{ user.display_name }}</span></header>
<nav><ul>{% for key, label in nav %}<li><a href="/{{ key }}/">{{ label }}</a></li>{% endfor %}</ul></nav>
<main><h1>{{ title }}</h1>{{ body }}</main></body></html>"""

LIST = """<form method="get" class="filters">
{% for key, label, options in choices %}<label>{{ label }} <select name="{{ key }}">
<option value="">全部</option>{% for value, text in options %}<option value="{{ value }}"
{% if value == chosen.get(key) %} selected{% endif %}>{{ text }}</option>{% endfor %}</select></label>{% endfor %}
<label>负责人 <select name="owner"><option value="">全部</option>{% for id, name in people %}
<option value="{{ id }}">{{ name }}</option>{% endfor %}</select></label>
<label>客户 <input name="customer"></label> <label>预计成交 <input type="date" name="from">
<input type="date" name="to"></label><button>筛选</button></form>
{% for view in views %}<a href="?{{ view.query }}">{{ view.name }}</a>{% endfor %}
<p>{{ total }} 条</p><table><thead><tr>{% for label in headers %}<th>{{ label }}</th>{% endfor %}
</tr></thead><tbody>{% for row in rows %}<tr>
<td><a href="/opportunity/{{ row.id }}">{{ row.name }}</a></td>
<td>{% if row.customer_name %}<a href="/customer/{{ row.customer }}">{{ row.customer_name }}</a>
{% elif row.customer %}#{{ row.customer }}{% endif %}</td>
<td>{{ row.stage }}</td><td>{{ row.amount }}</td><td>{{ row.probability }}</td>
<td>{{ row.expected_close_date }}</td><td>{{ row.owner_name }}</td><td>{{ row.updated_at }}</td>
</tr>{% endfor %}</tbody></table>{% if more %}<a rel="next" href="?after={{ rows[-1].id }}">下一页</a>{% endif %}"""

RECORD = """<dl>{% for label, value in fields %}<dt>{{ label }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>
{% for label, rows in related %}<section><h2>{{ label }}</h2><ul>{% for id, title, key in rows %}
<li><a href="/{{ key }}/{{ id }}">{{ title }}</a></li>{% endfor %}</ul></section>{% endfor %}
<section><h2>历史</h2><ol>{% for entry in history %}<li>{{ entry.action }} · {{ entry.who }} ·
{{ entry.at }}<ul>{% for label, old, new in entry.changes %}<li>{{ label }}: {{ old }} → {{ new }}</li>
{% endfor %}</ul></li>{% endfor %}</ol></section>"""


def create_app(database_url: str, app_dir: str, secret: str) -> Flask:
    """The tables are taken from the compiled app only for their column types and labels."""
    engine = connect(database_url)
    compiled = AppSchema(load_app(app_dir))
    form = compiled.app.form("opportunity")
    t = compiled.table("opportunity")
    columns = [c for c in t.columns if not c.name.startswith("_")]
    labels = {field.key: field.label.text() for field in form.fields}
    options = {
        field.key: {option.value: option.label.text() for option in field.options}
        for field in form.fields
        if field.options
    }
    aliases = {key: compiled.table(key).alias(key) for key in LINKS}
    nav = [(key, other.label.text()) for key, other in compiled.app.forms.items()]
    app = Flask("baseline")
    app.secret_key = secret
    layout, list_body, record_body = (
        app.jinja_env.from_string(source) for source in (LAYOUT, LIST, RECORD)
    )

    def scope(connection: Any, user_id: int) -> tuple[Any, list[int]]:
        """The user's row, and their department with those under it."""
        user = connection.execute(
            select(users.c.id, users.c.display_name, users.c.department_id).where(
                users.c.id == user_id, users.c.is_active
            )
        ).one_or_none()
        if user is None:
            abort(401)
        below = connection.execute(
            select(departments.c.id).where(departments.c.parent_id == user.department_id)
        ).scalars()
        return user, [user.department_id, *below]

    def reachable(table: Table, visible: list[int]) -> Any:
        return and_(table.c[DELETED_AT].is_(None), table.c[DEPARTMENT].in_(visible))

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

    def page(
        connection: Any, visible: list[int], limit: int, *, names: bool
    ) -> tuple[list[dict[str, Any]], int]:
        where = [reachable(t, visible)]
        if request.args.get("stage"):
            where.append(t.c.stage == request.args["stage"])
        query = (
            select(*columns)
            .where(*where)
            .order_by(t.c.created_at.desc(), t.c.id.desc())
            .limit(limit)
        )
        rows = connection.execute(query).mappings()
        found = [dict(row) for row in rows]
        if names:  # looked up by id: joined in, SQLite builds a Bloom filter of every customer
            customer = compiled.table("customer")
            customers = dict(
                connection.execute(
                    select(customer.c.id, customer.c.name).where(
                        customer.c.id.in_({row["customer"] for row in found}),
                        reachable(customer, visible),
                    )
                ).all()
            )
            owners = dict(
                connection.execute(
                    select(users.c.id, users.c.display_name).where(
                        users.c.id.in_({row["owner"] for row in found})
                    )
                ).all()
            )
            for row in found:
                row["customer_name"] = customers.get(row["customer"])
                row["owner_name"] = owners.get(row["owner"])
        matching = select(literal_column("1")).select_from(t).where(*where).limit(TOTAL_CAP + 1)
        total = connection.execute(select(func.count()).select_from(matching.subquery()))
        return found, min(total.scalar_one(), TOTAL_CAP)

    def shown(key: str, value: Any) -> str:
        if value is None:
            return "—"
        if key in options:
            return options[key].get(value, str(value))
        if key in ("amount", "weighted_amount"):
            return str(format_currency(Decimal(str(value)), "CNY", locale=CHINESE))
        if key == "probability":
            return f"{value}%"
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            return aware.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
        return str(value)

    @app.get("/login/<int:user_id>")
    def login(user_id: int) -> Any:  # the benchmark signs in once per connection
        session["uid"] = user_id
        return "ok"

    @app.get("/api/opportunity")
    def api_list() -> Any:
        with read_transaction(engine) as connection:
            _, visible = scope(connection, user_from_token(connection))
            rows, total = page(connection, visible, 50, names=False)
        return jsonify({"data": [_plain(row) for row in rows], "total": total})

    @app.get("/opportunity/")
    def list_page() -> Any:
        with read_transaction(engine) as connection:
            user, visible = scope(connection, user_from_session())
            rows, total = page(connection, visible, 21, names=True)
            people = connection.execute(
                select(users.c.id, users.c.display_name)
                .where(users.c.is_active)
                .order_by(users.c.display_name)
            ).all()
            views = connection.execute(
                select(saved_views.c.name, saved_views.c.query).where(
                    saved_views.c.user_id == user.id, saved_views.c.table_name == t.name
                )
            ).all()
        more, rows = len(rows) > 20, rows[:20]
        for row in rows:
            for key in ("stage", "amount", "probability", "expected_close_date", "updated_at"):
                row[key] = shown(key, row[key])
        body = list_body.render(
            rows=rows,
            total=total,
            more=more,
            people=people,
            views=views,
            chosen=request.args,
            headers=[*(labels[key] for key in LIST_FIELDS), "更新时间"],
            choices=[(key, labels[key], list(options[key].items())) for key in options],
        )
        return layout.render(title=form.label.text(), user=user, nav=nav, body=Markup(body))

    @app.get("/opportunity/<int:record_id>")
    def record_page(record_id: int) -> Any:
        with read_transaction(engine) as connection:
            user, visible = scope(connection, user_from_session())
            record, titles = linked_record(connection, record_id, visible)
            related = [related_rows(connection, other, record_id, visible) for other in RELATED]
            history = connection.execute(
                select(
                    audit_log.c.action, audit_log.c.at, audit_log.c.changes, users.c.display_name
                )
                .outerjoin(users, users.c.id == audit_log.c.user_id)
                .where(audit_log.c.table_name == t.name, audit_log.c.record_id == record_id)
                .order_by(audit_log.c.id.desc())
                .limit(200)
            ).all()
        fields = [
            (labels[key], titles.get(key) or shown(key, record[key]))
            for key in labels
            if key in record
        ]
        entries = [
            {
                "action": entry.action,
                "who": entry.display_name,
                "at": shown("at", entry.at),
                "changes": [
                    (labels.get(key, key), shown(key, old), shown(key, new))
                    for key, (old, new) in _changes(entry.changes).items()
                ],
            }
            for entry in history
        ]
        body = record_body.render(fields=fields, related=related, history=entries)
        return layout.render(title=record["name"], user=user, nav=nav, body=Markup(body))

    def linked_record(
        connection: Any, record_id: int, visible: list[int]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The record, its owner's name and the titles of the records it links to."""
        query = select(*columns, users.c.display_name.label("owner_name")).outerjoin(
            users, users.c.id == t.c.owner
        )
        for key, title in LINKS.items():
            linked = aliases[key]
            query = query.add_columns(linked.c[title].label(f"{key}_title")).outerjoin(
                linked, and_(linked.c.id == t.c[key], reachable(linked, visible))
            )
        found = (
            connection.execute(query.where(t.c.id == record_id, reachable(t, visible)))
            .mappings()
            .one_or_none()
        )
        if found is None:
            abort(404)
        record = dict(found)
        titles = {key: record.pop(f"{key}_title") for key in LINKS}
        titles["owner"] = record.pop("owner_name")
        return record, {key: value for key, value in titles.items() if value}

    def related_rows(
        connection: Any, key: str, record_id: int, visible: list[int]
    ) -> tuple[str, list[tuple[int, str, str]]]:
        link, title, newest = RELATED[key]
        other = compiled.table(key)
        rows = connection.execute(
            select(other.c.id, other.c[title])
            .where(other.c[link] == record_id, reachable(other, visible))
            .order_by(other.c[newest].desc(), other.c.id.desc())
            .limit(11)
        ).all()
        return compiled.app.form(key).label.text(), [(row[0], row[1], key) for row in rows]

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
            found, _ = scope(connection, user)
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
                DEPARTMENT: found.department_id,
                SEARCH: search_document([body["name"], body.get("description")]),
            }
            new_id = connection.execute(insert(t).values(row).returning(t.c.id)).scalar_one()
            created = connection.execute(select(*columns).where(t.c.id == new_id)).mappings().one()
        return jsonify(_plain(dict(created))), 201

    return app


def _changes(stored: Any) -> dict[str, tuple[Any, Any]]:
    found = json.loads(stored) if isinstance(stored, str) else stored
    return {key: (pair[0], pair[1]) for key, pair in (found or {}).items()}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: str(value) if isinstance(value, (Decimal, date, datetime)) else value
        for key, value in row.items()
    }
