"""The API's errors speak the caller's language: the ``code`` is the same in every language,
the ``message`` is translated, for a query or a body that does not fit as for any other
error. Every message the engine raises is a message id (``N_``) that the catalogue
translates (tests/web/test_admin_translations.py checks the catalogue has each one)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import formflow
from formflow.accounts import tokens
from formflow.storage.database import write_transaction
from web.test_api import CUSTOMERS, Api, token_for, user_id
from web.visible_text import english_phrases

PACKAGE = Path(formflow.__file__).resolve().parent
CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
"""A message that is only placeholders (a rule's own, bilingual text) has nothing to translate."""
RECORD = f"{CUSTOMERS}/1"
SEARCH = CUSTOMERS.removesuffix("/records") + "/search"

Request = tuple[str, str, dict[str, Any]]
ERRORS: dict[str, tuple[str, Request]] = {
    "an unknown query parameter": ("invalid_query", ("GET", f"{CUSTOMERS}?sorting=1", {})),
    "a filter that is not JSON": ("invalid_query", ("GET", f"{CUSTOMERS}?filter=%7B", {})),
    "a filter on an unknown field": (
        "invalid_query",
        (
            "GET",
            f"{CUSTOMERS}?filter=" + json.dumps({"field": "nosuch", "op": "eq", "value": 1}),
            {},
        ),
    ),
    "an operator the field does not take": (
        "invalid_query",
        ("GET", f"{CUSTOMERS}?filter=" + json.dumps({"field": "name", "op": "zz", "value": 1}), {}),
    ),
    "a limit that is not a number": ("invalid_query", ("GET", f"{CUSTOMERS}?limit=%2B", {})),
    "a limit too large": ("invalid_query", ("GET", f"{CUSTOMERS}?limit=100000", {})),
    "a search body that does not fit the document": (
        "invalid_query",
        ("POST", SEARCH, {"json": {"limit": "1"}}),
    ),
    "a body that is not JSON": (
        "invalid_json",
        ("POST", CUSTOMERS, {"data": "{", "content_type": "application/json"}),
    ),
    "a body that gives a key twice": (
        "invalid_json",
        (
            "POST",
            CUSTOMERS,
            {"data": '{"name": "A", "name": "B"}', "content_type": "application/json"},
        ),
    ),
    "a search body with a member it does not take": (
        "invalid_query",
        ("POST", SEARCH, {"json": {"limit": 1, "sorting": "name"}}),
    ),
    "a body that is JSON but not an object": ("invalid_body", ("POST", CUSTOMERS, {"json": [1]})),
    "no body at all": (
        "invalid_body",
        ("POST", CUSTOMERS, {"data": "", "content_type": "application/json"}),
    ),
    "values that do not fit the form": ("validation_failed", ("POST", CUSTOMERS, {"json": {}})),
    "a record that is not there": ("not_found", ("GET", f"{CUSTOMERS}/999999", {})),
    "an update without the version read": (
        "version_required",
        ("PATCH", RECORD, {"json": {"name": "甲"}}),
    ),
    "an If-Match that is no version": (
        "invalid_if_match",
        ("PATCH", RECORD, {"json": {"name": "甲"}, "headers": {"If-Match": "x"}}),
    ),
    "a restore of a record not deleted": ("not_deleted", ("POST", f"{RECORD}/restore", {})),
}


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> Api:
    api = Api(client, token_for(app, "admin"))
    created = api.post(CUSTOMERS, json={"name": "甲公司"})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["id"] == 1
    return api


def messages(body: dict[str, Any]) -> list[str]:
    """The error's message and each field problem's."""
    error = body["error"]
    found = [error["message"]]
    for problems in error.get("fields", {}).values():
        found.extend(problem["message"] for problem in problems)
    return found


@pytest.mark.parametrize("case", list(ERRORS))
def test_each_api_error_is_in_chinese_for_a_chinese_caller(admin: Api, case: str) -> None:
    code, (method, path, options) = ERRORS[case]
    options = {**options, "headers": {**CHINESE, **options.get("headers", {})}}
    answered = getattr(admin, method.lower())(path, **options)
    body = answered.get_json()
    assert body["error"]["code"] == code, body
    assert english_phrases(messages(body)) == [], body


def test_the_same_error_is_in_english_for_an_english_caller(admin: Api) -> None:
    answered = admin.get(f"{CUSTOMERS}?sorting=1", headers={"Accept-Language": "en"})
    error = answered.get_json()["error"]
    assert error["code"] == "invalid_query"
    assert error["message"].startswith("unknown query parameter 'sorting'; it takes ")


@pytest.mark.parametrize(
    ("scope", "described"),
    [
        (tokens.TokenScope(read_only=True), "只读"),
        (tokens.TokenScope(read_only=True, forms=frozenset({"crm_sfa/contact"})), "只读"),
        (tokens.TokenScope(forms=frozenset({"crm_sfa/contact"})), "读写"),
    ],
)
def test_a_token_scope_refusal_says_the_scope_in_chinese(
    app: Flask, client: FlaskClient, scope: tokens.TokenScope, described: str
) -> None:
    with write_transaction(app.extensions["formflow"].engine) as connection:
        _id, plaintext = tokens.create_token(connection, user_id(app, "admin"), "s", scope=scope)
    answered = Api(client, plaintext).post(CUSTOMERS, json={"name": "甲"}, headers=CHINESE)
    error = answered.get_json()["error"]
    assert error["code"] == "token_scope"
    assert described in error["message"]
    assert english_phrases([error["message"]]) == [], error


def engine_raises(tree: ast.AST) -> list[ast.Call]:
    """The errors raised in ``tree`` that take a message first: ``raise X("...", ...)``."""
    return [
        node.exc
        for node in ast.walk(tree)
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args
    ]


def is_written_out(message: ast.expr) -> bool:
    """A message put together in English where it is raised: a literal, an f-string or a
    sum of texts, which no catalogue can translate (a message id is ``N_("...")``)."""
    if isinstance(message, ast.Constant) and isinstance(message.value, str):
        return re.search("[A-Za-z]", PLACEHOLDER.sub("", message.value)) is not None
    return isinstance(message, ast.JoinedStr | ast.BinOp)


def record_error_names() -> set[str]:
    """RecordError and every class deriving from it in the package (their messages reach
    API clients)."""
    bases: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
    found = {"RecordError"}
    while grown := {name for name, its in bases.items() if its & found} - found:
        found |= grown
    return found


def test_every_record_error_is_raised_with_a_message_id() -> None:
    """So the web edge can translate it: an f-string reached a Chinese caller in English."""
    errors = record_error_names()
    written_out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in engine_raises(tree):
            name = ast.unparse(call.func).rsplit(".", 1)[-1]
            if name in errors and is_written_out(call.args[0]):
                written_out.append(f"{path.relative_to(PACKAGE)}:{call.lineno}: {name}")
        for node in ast.walk(tree):
            is_problem = isinstance(node, ast.Call) and ast.unparse(node.func) == "Problem"
            if is_problem and len(node.args) > 1 and is_written_out(node.args[1]):
                written_out.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: Problem")
    assert written_out == []
