"""Constants and helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, event
from werkzeug.serving import make_server

from formflow.definitions import load_app
from formflow.errors import DefinitionErrors

ROOT = Path(__file__).resolve().parent.parent
CRM_APP = ROOT / "apps" / "crm_sfa"
EVERY_TYPE_APP = Path(__file__).resolve().parent / "every_type_app"
"""A small app with a field of every built-in type, each one a list filter where it can be."""

MINIMAL_APP_YAML = """\
key: demo
version: "1.0"
label: {zh: 演示, en: Demo}
roles:
  - key: staff
    label: {zh: 员工, en: Staff}
  - key: manager
    label: {zh: 经理, en: Manager}
include:
  forms: [forms/*.yaml]
"""

MINIMAL_FORM_YAML = """\
key: item
label: {zh: 条目, en: Item}
title_field: name
fields:
  - key: name
    type: text
    label: {zh: 名称, en: Name}
    required: true
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""

AppWriter = Callable[..., Path]


def definition_errors(app_dir: Path) -> list[str]:
    """Every error ``load_app`` reports, as ``FILE:LINE:COL: message`` relative to the app."""
    with pytest.raises(DefinitionErrors) as caught:
        load_app(app_dir)
    prefix = f"{app_dir}/"
    return [str(error).removeprefix(prefix) for error in caught.value]


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` served over real HTTP on a free 127.0.0.1 port, in a thread; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def counting_statements(engine: Engine) -> Iterator[list[str]]:
    """Collect every SQL statement ``engine`` runs inside the block."""
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
