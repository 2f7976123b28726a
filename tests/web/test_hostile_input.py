"""No input makes a server error: hostile values on every page and every API operation.

For the CRM app and for a small app with a field of every type, on SQLite and PostgreSQL,
every page route of the Flask URL map and every operation of the OpenAPI document is sent
values that Python parses but a database refuses or overflows on (see ``hostile.py``): in
path parts, query strings, form fields and JSON bodies. Pages answer 4xx or show the form
again with its errors; the API answers 4xx JSON in its one error shape. Nothing answers 5xx.

Routes, parameter names and body properties come from the app itself (its URL map, the
inputs its pages show, its OpenAPI document), so what is added later is covered too. Each
app is set up once per database; the hostile values are rotated over the names, so each
name meets each value in as many requests as there are values.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hostile import (
    BODIES,
    IDS,
    JSON,
    TEXT,
    Call,
    body_properties,
    error_shaped,
    fill,
    input_names,
    json_object,
    path_parts,
    query,
    resolve,
    rotations,
    tampered_cursors,
)
from werkzeug.routing import Rule

from databases import postgres_schema_url
from formflow import accounts, saved_views
from formflow.accounts import tokens
from formflow.config import load_settings
from formflow.definitions import load_app
from formflow.definitions.model import App, Field
from formflow.errors import RecordError
from formflow.fields import BUILTIN_REGISTRY, ValueKind
from formflow.lifecycle.install import initialise
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.web import create_app
from support import CRM_APP, EVERY_TYPE_APP

APPS = {"crm": CRM_APP, "every_type": EVERY_TYPE_APP}
SETUPS = [
    pytest.param(
        (app, database),
        id=f"{app}-{database}",
        marks=[pytest.mark.postgres] * (database != "sqlite"),
    )
    for app in sorted(APPS)
    for database in ("sqlite", "postgresql")
]
SPREAD = {"crm": 12, "every_type": 1}
"""Over how many forms an app's rotations of hostile values are spread: the every-type
app's forms get every rotation, each CRM form a twelfth of them (its field types are the
same; its many forms and routes are what it adds)."""
PASSWORD = "password-1"
SKIPPED = frozenset({"static", "assets.vendor"})
"""Files served as they are, with no parsing of their own."""


@dataclass
class Served:
    """An app served for the module, with the ids its pages and API can be pointed at."""

    flask: Flask
    definition: App
    token: str
    real: dict[str, str]
    records: dict[str, int]
    spread: int

    def signed_in(self) -> FlaskClient:
        client = self.flask.test_client()
        response = client.post("/login", data={"username": "admin", "password": PASSWORD})
        assert response.status_code == 302, response.text
        return client

    def send(self, client: FlaskClient, call: Call) -> Any:
        headers = dict(call.headers)
        if call.url.startswith("/api/"):
            headers["Authorization"] = f"Bearer {self.token}"
        if call.body is not None:
            headers["Content-Type"] = "application/json"
            return client.open(call.url, method=call.method, data=call.body, headers=headers)
        return client.open(call.url, method=call.method, data=dict(call.form), headers=headers)

    def shifts(self, form_key: str | None, count: int = len(TEXT)) -> range:
        """Which of ``count`` rotations of hostile values a form's requests take."""
        if form_key is None or form_key not in self.definition.forms:
            return range(count)
        part = list(self.definition.forms).index(form_key) % self.spread
        return range(part, count, self.spread)


@pytest.fixture(scope="module", params=SETUPS)
def served(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_database: str | None,
) -> Iterator[Served]:
    app_name, database = request.param
    if database == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path_factory.mktemp('hostile')}/ff.db"])
    elif postgres_database is None:
        pytest.skip("PostgreSQL unavailable")
    else:
        urls = postgres_schema_url(postgres_database)
    for url in urls:
        yield from _serve(APPS[app_name], url, tmp_path_factory.mktemp("instance"))


def _serve(app_dir: Path, database_url: str, folder: Path) -> Iterator[Served]:
    env = {"FORMFLOW_INSTANCE": str(folder), "FORMFLOW_DATABASE_URL": database_url}
    settings = load_settings(env, secure_cookies=False)
    initialise(settings, [app_dir], "admin", PASSWORD)
    flask = create_app(settings)
    flask.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    instance = flask.extensions["formflow"]
    app_key = instance.app_keys[0]
    with write_transaction(instance.engine) as connection:
        department = accounts.create_department(connection, "东区")
        admin = accounts.find_user(connection, "admin")
        assert admin is not None
        other = accounts.create_user(connection, "other", PASSWORD, department_id=department)
        _token_id, token = tokens.create_token(connection, admin.id, "hostile")
        spare_token, _plaintext = tokens.create_token(connection, other, "spare")
        view = saved_views.save_view(connection, admin.id, "nowhere", "a view", {"q": "x"})
    service = instance.records(app_key)
    actor = Actor(admin.id, frozenset(), is_admin=True)
    real = {
        "app_key": app_key,
        "user_id": str(other),
        "department_id": str(department),
        "token_id": str(spare_token),
        "view_id": str(view),
        "session_id": "1",  # another user's, or none: either way not the admin's to end
        "letter_id": "1",  # no dead letter: retrying it says so
        "job_id": "1",  # no failed plugin job: running it again says so
        "delegation_id": "1",  # nobody's delegation: ending it is not found
        "notification_id": "1",  # nobody's: opening or marking it is not found
        "code": "en",
        "workflow_key": next(iter(service.app.workflows), "none"),
        "plugin": "formflow.builtin",  # has no settings: its settings page is not found
        "file_format": "csv",
        "fmt": "csv",
        "number": "1",  # no such version to roll back to
        "run_id": "1",  # no such import run
        "token": "0" * 32,  # no such uploaded file
        "field_key": "name",  # a field a duplicate check may watch
        **_dashboard_parts(service.app),
    }
    records = _seed(service, actor, {"user": admin.id, "department": department})
    spread = SPREAD["crm" if app_dir == CRM_APP else "every_type"]
    yield Served(flask, service.app, token, real, records, spread)
    instance.close()
    shutil.rmtree(folder, ignore_errors=True)


def _dashboard_parts(app: App) -> dict[str, str]:
    """A real dashboard and widget of the app, or names of none."""
    dashboard = next(iter(app.dashboards.values()), None)
    if dashboard is None or not dashboard.widgets:
        return {"key": "none", "dashboard_key": "none", "widget": "none", "widget_key": "none"}
    widget = dashboard.widgets[0].key
    return {
        "key": dashboard.key,
        "dashboard_key": dashboard.key,
        "widget": widget,
        "widget_key": widget,
    }


def _seed(service: RecordService, actor: Actor, people: dict[str, int]) -> dict[str, int]:
    """Two records in every form that plain sample values can fill (the second may be
    refused, by a unique field say), linking to ones made before."""
    made: dict[str, int] = {}
    for _round in range(len(service.app.forms)):
        for form in service.app.forms.values():
            if form.key in made:
                continue
            values = {f.key: _sample(f, made, people) for f in form.fields if not f.is_computed}
            try:
                made[form.key] = service.create(actor, form.key, values)["id"]
                service.create(actor, form.key, values)  # a second page, for cursors
            except RecordError:
                continue
    return made


def _sample(field: Field, made: dict[str, int], people: dict[str, int]) -> Any:
    samples: dict[ValueKind, Any] = {
        ValueKind.TEXT: field.option_values[0] if field.option_values else None,
        ValueKind.DECIMAL: "1",
        ValueKind.INTEGER: 1,
        ValueKind.DATE: date(2026, 1, 15),
        ValueKind.DATETIME: "2026-01-15T09:00:00",
        ValueKind.BOOL: True,
        ValueKind.CHOICES: list(field.option_values[:1]),
    }
    if field.kind is ValueKind.TEXT and not field.option_values:
        return {
            "phone": "+8613800138000",
            "email": "a@example.com",
            "url": "https://a.example",
        }.get(field.type, "样本")
    if field.kind is ValueKind.REFERENCE:
        return people.get(field.type) or made.get(field.target_form or "")
    return samples.get(field.kind)


# the pages ----------------------------------------------------------------------------


def page_rules(served: Served) -> list[Rule]:
    return sorted(
        (
            rule
            for rule in served.flask.url_map.iter_rules()
            if not rule.endpoint.startswith("api.") and rule.endpoint not in SKIPPED
        ),
        key=lambda rule: rule.rule,
    )


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def real_paths(served: Served, rule: Rule) -> Iterator[tuple[str | None, dict[str, str]]]:
    """For each form the rule can name (once if it names none), real path values."""
    forms = served.definition.forms.values() if "form_key" in path_parts(rule) else [None]
    for form in forms:
        values = {**served.real, "file_id": "0" * 32}
        if form is not None:
            links = [
                f.key if f.type == "link" else f"{f.key}.{sub.key}"
                for f in form.fields
                for sub in (f, *f.fields)
                if sub.type == "link"
            ]
            values["form_key"] = form.key
            values["record_id"] = str(served.records.get(form.key, 1))
            values["path"] = links[0] if links else "name"
            values["action_key"] = form.actions[0].key if form.actions else "none"
        yield (form.key if form else None), values


def test_the_every_type_app_has_a_field_of_every_type() -> None:
    forms = load_app(EVERY_TYPE_APP).forms.values()
    types = {sub.type for form in forms for found in form.fields for sub in (found, *found.fields)}
    assert types == set(BUILTIN_REGISTRY)


def test_pages_refuse_hostile_path_parts(served: Served) -> None:
    """Each path part of each page route in turn takes each hostile value, the rest real."""
    client = served.signed_in()
    failures = []
    for rule in page_rules(served):
        _form_key, values = next(real_paths(served, rule))
        for name, converter in path_parts(rule).items():
            for value in IDS if converter == "int" else TEXT:
                for method in methods(rule):
                    call = Call(method, fill(rule, {**values, name: value}))
                    if served.send(client, call).status_code >= 500:
                        failures.append(call.describe())
    assert not failures, "\n".join(failures)


def test_pages_refuse_hostile_query_and_form_values(served: Served) -> None:
    """Every input name a page shows, in its query string and its form, meets the values."""
    client = served.signed_in()
    failures = []
    for rule in page_rules(served):
        if rule.endpoint.endswith("delete") or rule.endpoint == "auth.logout":
            continue  # they read nothing but their path, tried above
        for form_key, values in real_paths(served, rule):
            url = fill(rule, values)
            names = _names(client, url, rule)
            for assigned in rotations(names, TEXT, served.shifts(form_key)):
                for method in methods(rule):
                    call = (
                        Call(method, query(url, assigned))
                        if method == "GET"
                        else Call(method, url, form=assigned)
                    )
                    if served.send(client, call).status_code >= 500:
                        failures.append(call.describe())
    assert not failures, "\n".join(failures)


def _names(client: FlaskClient, url: str, rule: Rule) -> list[str]:
    """What the page itself sends back, and the list parameters it reads from its URL."""
    page = client.get(url) if "GET" in methods(rule) else None
    html = page is not None and page.status_code == 200 and page.mimetype == "text/html"
    found = input_names(page.text) if page is not None and html else set()
    return sorted(found | {"q", "sort", "cursor", "version", "_record", "name", "next"})


# the API ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    form_key: str | None
    query: list[str]
    headers: list[str]
    body: list[str] | None


def api_operations(client: FlaskClient) -> list[Operation]:
    """Every operation of the OpenAPI document, with its parameters and body properties."""
    document = client.get("/api/v1/openapi.json").get_json()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            parameters = [
                resolve(document, p)
                for p in [*item.get("parameters", []), *operation.get("parameters", [])]
            ]
            parts = path.split("/")
            found.append(
                Operation(
                    method.upper(),
                    "/api/v1" + path,
                    parts[2] if len(parts) > 3 else None,
                    sorted(p["name"] for p in parameters if p["in"] == "query"),
                    sorted(p["name"] for p in parameters if p["in"] == "header"),
                    body_properties(document, operation) if "requestBody" in operation else None,
                )
            )
    return found


def _api_url(served: Served, operation: Operation, record_id: str | None = None) -> str:
    real = str(served.records.get(operation.form_key or "", 1))
    return operation.path.replace("{record_id}", quote(record_id or real, safe=""))


def test_the_api_refuses_hostile_path_parts(served: Served) -> None:
    client = served.flask.test_client()
    failures = []
    for operation in api_operations(client):
        if "{record_id}" in operation.path:
            for value in (*IDS, *TEXT):
                url = _api_url(served, operation, value)
                failures += _api_failure(served, client, Call(operation.method, url, body=b"{}"))
    assert not failures, "\n".join(failures)


def test_the_api_refuses_hostile_query_values(served: Served) -> None:
    client = served.flask.test_client()
    failures = []
    for operation in api_operations(client):
        body = b"{}" if operation.body is not None else None
        names = [*operation.query, *operation.headers]
        for assigned in rotations(names, TEXT, served.shifts(operation.form_key)):
            params = {name: assigned[name] for name in operation.query}
            headers = {name: _header(assigned[name]) for name in operation.headers}
            url = query(_api_url(served, operation), params)
            call = Call(operation.method, url, body=body, headers=headers)
            failures += _api_failure(served, client, call)
    assert not failures, "\n".join(failures)


def _header(value: str) -> str:
    """A value as a header can carry it (no control characters, Latin-1)."""
    return value.replace("\x00", "").encode("latin-1", "replace").decode("latin-1")


def test_the_api_refuses_hostile_bodies(served: Served) -> None:
    client = served.flask.test_client()
    failures = []
    for operation in api_operations(client):
        if operation.body is None:
            continue
        keys = operation.body
        shifts = served.shifts(operation.form_key, len(JSON))
        objects = (json_object(keys, list(a.values())) for a in rotations(keys, JSON, shifts))
        for body in (*BODIES, *objects):
            call = Call(operation.method, _api_url(served, operation), body=body)
            failures += _api_failure(served, client, call)
    assert not failures, "\n".join(failures)


def _api_failure(served: Served, client: FlaskClient, call: Call) -> list[str]:
    response = served.send(client, call)
    if response.status_code >= 500:
        return [f"{response.status_code} {call.describe()}"]
    if response.status_code >= 400 and not error_shaped(response.get_json(silent=True)):
        return [f"{response.status_code} not in the error shape: {call.describe()}"]
    return []


def test_forged_cursors_are_refused(served: Served) -> None:
    """A cursor re-signed around hostile sort values, on the API and on the list page."""
    client = served.signed_in()
    failures = []
    forged = 0
    for form_key in served.records:
        api_url = f"/api/v1/{served.real['app_key']}/{form_key}/records"
        page = served.send(client, Call("GET", f"{api_url}?limit=1")).get_json()
        if page["next_cursor"] is None:
            continue
        forged += 1
        for cursor in tampered_cursors(page["next_cursor"]):
            failures += _api_failure(
                served, client, Call("GET", query(api_url, {"cursor": cursor}))
            )
            list_url = query(f"/{served.real['app_key']}/{form_key}/", {"cursor": cursor})
            if served.send(client, Call("GET", list_url)).status_code >= 500:
                failures.append(f"GET {list_url}")
    assert forged > 0
    assert not failures, "\n".join(failures)
