"""A client generated from the OpenAPI document works against the API, as it is.

openapi-python-client turns the document into a typed Python package, offline and
without a warning (a part it cannot read would be left out of the client, so a warning
fails the test). The package is then imported and drives a real server (the app on
127.0.0.1 in a thread) with a bearer token through a record's life: create, find it by
a filter, change, delete, restore, and read its history. Filters go in the body of
``POST .../search``: a filter in a query string is JSON (``content``), which generated
clients do not send.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web.test_api import token_for

PACKAGE = "formflow_generated_client"
API = f"{PACKAGE}.api.crm_sfa_product"


@pytest.fixture
def generated(app: Flask, client: FlaskClient, tmp_path: Path) -> Iterator[ModuleType]:
    """A client generated from the document as the token it will use reads it."""
    document = tmp_path / "openapi.json"
    headers = {"Authorization": f"Bearer {token_for(app, 'admin')}"}
    document.write_bytes(client.get("/api/v1/openapi.json", headers=headers).data)
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatting of the generated code
    command = [
        str(Path(sys.executable).with_name("openapi-python-client")),
        "generate",
        "--path",
        str(document),
        "--output-path",
        str(tmp_path / PACKAGE),
        "--meta",
        "none",
        "--config",
        str(config),
        "--fail-on-warning",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def operation(name: str) -> Any:
    return importlib.import_module(f"{API}.crm_sfa_product_{name}")


def model(name: str) -> Any:
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


@pytest.mark.slow
def test_a_generated_client_lives_a_record_through_the_api(
    app: Flask, served: str, generated: ModuleType
) -> None:
    api = generated.AuthenticatedClient(
        base_url=f"{served}/api/v1", token=token_for(app, "admin"), raise_on_unexpected_status=True
    )
    new = model("CrmSfaProductInput").from_dict(
        {"code": "GEN-1", "name": "Generated", "category": "software", "list_price": "12.50"}
    )
    created = operation("create").sync(client=api, body=new)
    assert (created.code, created.name, created.list_price, created.version) == (
        "GEN-1",
        "Generated",
        "12.50",
        1,
    )

    search = model("CrmSfaProductSearch").from_dict(
        {"filter": {"or": [{"field": "code", "op": "eq", "value": "GEN-1"}]}, "total": True}
    )
    page = operation("search").sync(client=api, body=search)
    assert ([record.id for record in page.data], page.total) == ([created.id], 1)

    change = model("CrmSfaProductUpdate").from_dict({"version": 1, "name": "Renamed"})
    updated = operation("update").sync(created.id, client=api, body=change)
    assert (updated.name, updated.version) == ("Renamed", 2)

    deleted = operation("delete").sync_detailed(created.id, client=api, version=2)
    assert deleted.status_code == 204
    assert operation("get").sync_detailed(created.id, client=api).status_code == 404

    restored = operation("restore").sync(created.id, client=api)
    assert (restored.id, restored.name) == (created.id, "Renamed")

    history = operation("history").sync(created.id, client=api)
    assert [entry.action for entry in history.data][:4] == ["restore", "delete", "update", "create"]
