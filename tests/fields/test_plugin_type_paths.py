"""A plugin's field type, written as one module (``tests/plugins/star_rating.py``), works
through every path a built-in type does: definitions, migrations, forms, lists, filters,
sorting, the API and its OpenAPI document."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.accounts import tokens
from formflow.config import Settings, load_settings
from formflow.errors import DefinitionErrors
from formflow.lifecycle.install import initialise, migrate_app
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor
from formflow.storage.database import write_transaction
from formflow.web import create_app
from support import MINIMAL_APP_YAML

PASSWORD = "password-1"
PLUGIN = Path(__file__).parents[1] / "plugins" / "star_rating.py"
REVIEW_FORM = """\
key: review
label: {zh: 评价, en: Review}
title_field: name
fields:
  - {key: name, type: text, label: 名称}
  - {key: rating, type: RATING_TYPE, label: {zh: 评分, en: Rating}, stars: 5}
list:
  columns: [name, rating]
  filters: [rating]
  sort: [-rating]
permissions:
  staff: {create: all, read: all, update: all, delete: all}
"""
RECORDS = "/api/v1/demo/review/records"


def write_app(folder: Path, rating_type: str) -> Path:
    (folder / "forms").mkdir(parents=True, exist_ok=True)
    (folder / "app.yaml").write_text(MINIMAL_APP_YAML, encoding="utf-8")
    form = REVIEW_FORM.replace("RATING_TYPE", rating_type)
    if rating_type != "star_rating":
        form = form.replace(", stars: 5", "")
    (folder / "forms" / "review.yaml").write_text(form, encoding="utf-8")
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(PLUGIN, plugins / PLUGIN.name)
    return load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path / "instance"), "FORMFLOW_PLUGINS_DIR": str(plugins)},
        secure_cookies=False,
    )


@pytest.fixture
def app(settings: Settings, tmp_path: Path) -> Iterator[Flask]:
    initialise(settings, [write_app(tmp_path / "app", "star_rating")], "admin", PASSWORD)
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["formflow"].close()


@pytest.fixture
def api(app: Flask) -> tuple[FlaskClient, dict[str, str]]:
    instance: Instance = app.extensions["formflow"]
    with write_transaction(instance.engine) as connection:
        _id, plaintext = tokens.create_token(connection, 1, "tests")
    return app.test_client(), {"Authorization": f"Bearer {plaintext}"}


def test_the_definition_checks_the_type_s_own_keys_and_default(
    settings: Settings, tmp_path: Path
) -> None:
    folder = write_app(tmp_path / "bad", "star_rating")
    form = folder / "forms" / "review.yaml"
    form.write_text(
        form.read_text(encoding="utf-8").replace("stars: 5", "stars: 5, default: 9"),
        encoding="utf-8",
    )
    instance = Instance(settings)
    try:
        with pytest.raises(DefinitionErrors, match=r"review.yaml:6:\d+: default must be from 1"):
            migrate_app(instance, folder, dry_run=True)
    finally:
        instance.close()


def test_the_api_takes_checks_and_returns_its_values(
    api: tuple[FlaskClient, dict[str, str]],
) -> None:
    client, headers = api
    created = client.post(RECORDS, json={"name": "Tea", "rating": 4}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json["rating"] == 4
    refused = client.post(
        RECORDS,
        json={"name": "Mud", "rating": 9},
        headers={**headers, "Accept-Language": "en"},
    )
    assert refused.status_code == 422
    [problem] = refused.json["error"]["fields"]["rating"]
    assert "at most 5" in problem["message"]  # the type's schema, checked at the door


def test_lists_filter_and_sort_by_it(api: tuple[FlaskClient, dict[str, str]]) -> None:
    client, headers = api
    for name, rating in (("Tea", 4), ("Cake", 2), ("Pie", 5)):
        client.post(RECORDS, json={"name": name, "rating": rating}, headers=headers)
    listed = client.get(RECORDS, query_string={"sort": "-rating"}, headers=headers)
    assert [r["name"] for r in listed.json["data"]] == ["Pie", "Tea", "Cake"]
    filtered = client.post(
        "/api/v1/demo/review/search",
        json={"filter": {"field": "rating", "op": "gte", "value": 4}, "sort": "rating"},
        headers=headers,
    )
    assert filtered.status_code == 200, filtered.text
    assert [r["name"] for r in filtered.json["data"]] == ["Tea", "Pie"]


def test_the_openapi_document_describes_it(api: tuple[FlaskClient, dict[str, str]]) -> None:
    client, headers = api
    document = client.get("/api/v1/openapi.json", headers=headers).json
    schemas = document["components"]["schemas"]
    rating = schemas["Demo_Review_Record"]["properties"]["rating"]
    assert (rating["maximum"], rating["type"]) == (5, ["integer", "null"])
    sent = schemas["Demo_Review_Input"]["properties"]["rating"]
    assert (sent["minimum"], sent["maximum"]) == (1, 5)


def test_the_form_page_shows_it_and_keeps_a_refused_value(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login").text
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    form = client.get("/demo/review/new")
    assert form.status_code == 200
    assert 'name="rating"' in form.text
    token = form.text.split('name="csrf-token" content="')[1].split('"')[0]
    refused = client.post(
        "/demo/review/new", data={"name": "Mud", "rating": "9", "csrf_token": token}
    )
    assert refused.status_code == 422
    assert "must be from 1 to 5 stars" in refused.text
    assert 'value="9"' in refused.text
    saved = client.post(
        "/demo/review/new", data={"name": "Tea", "rating": "4", "csrf_token": token}
    )
    assert saved.status_code == 302
    listed = client.get("/demo/review/?sort=-rating")
    assert "Tea" in listed.text


def test_a_migration_moves_stored_values_to_it_and_refuses_what_does_not_fit(
    settings: Settings, tmp_path: Path
) -> None:
    initialise(settings, [write_app(tmp_path / "v1", "text")], "admin", PASSWORD)
    instance = Instance(settings)
    try:
        service, system = instance.records("demo"), Actor.system()
        tea = service.create(system, "review", {"name": "Tea", "rating": "4"})
        mud = service.create(system, "review", {"name": "Mud", "rating": "9"})
        v2 = write_app(tmp_path / "v2", "star_rating")
        refused = migrate_app(instance, v2, dry_run=True)
        assert any("id 2 '9'" in line for line in refused.lines), refused.lines
        service.update(
            system, "review", mud["id"], {"rating": "3"}, expected_version=mud["version"]
        )
        migrate_app(instance, v2, dry_run=False)
        migrated = instance.records("demo")
        assert migrated.get(system, "review", tea["id"])["rating"] == 4
        assert migrated.get(system, "review", mud["id"])["rating"] == 3
    finally:
        instance.close()
