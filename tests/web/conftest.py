"""A served CRM instance for web tests, with users of every role.

The instance is set up once per test run (migrating the CRM app takes a moment) and each
test gets its own copy of the database file, so tests stay isolated and fast.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow import accounts
from formflow.config import Settings, load_settings
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance
from formflow.storage.database import write_transaction
from formflow.testing import csrf_token, sign_in
from formflow.web import create_app
from support import CRM_APP, serving
from web.demo_pages import build_demo

__all__ = ["PASSWORD", "USERS", "csrf_token"]  # csrf_token: the tests import it from here

PASSWORD = "password-1"
USERS = {
    # username: (department, roles, is_admin)
    "rep1": ("east", ["sales_rep"], False),
    "rep2": ("east", ["sales_rep"], False),
    "rep3": ("west", ["sales_rep"], False),
    "manager": ("sales", ["sales_manager"], False),
    "finance": ("finance", ["finance"], False),
}


@pytest.fixture(scope="session")
def template_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised instance folder with the CRM app and the users above."""
    folder = tmp_path_factory.mktemp("template-instance")
    settings = load_settings({"FORMFLOW_INSTANCE": str(folder)}, secure_cookies=False)
    initialise(settings, [CRM_APP], "admin", PASSWORD)
    instance = Instance(settings)
    password_hash = accounts.hash_password(PASSWORD)
    with write_transaction(instance.engine) as connection:
        sales = accounts.create_department(connection, "销售部")
        departments = {
            "sales": sales,
            "east": accounts.create_department(connection, "华东区", parent_id=sales),
            "west": accounts.create_department(connection, "华西区", parent_id=sales),
            "finance": accounts.create_department(connection, "财务部"),
        }
        for username, (department, roles, is_admin) in USERS.items():
            accounts.create_user(
                connection,
                username,
                None,
                password_hash=password_hash,
                display_name=username,
                department_id=departments[department],
                is_admin=is_admin,
                roles={"crm_sfa": roles},
            )
    instance.close()
    return folder


@pytest.fixture(scope="session")
def demo_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance folder holding the CRM demo company, built once per test run."""
    return build_demo(tmp_path_factory.mktemp("demo-instance"))


@pytest.fixture
def settings(template_instance: Path, tmp_path: Path) -> Settings:
    folder = tmp_path / "instance"
    shutil.copytree(template_instance, folder)
    return load_settings({"FORMFLOW_INSTANCE": str(folder)}, secure_cookies=False)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["formflow"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app served over real HTTP on 127.0.0.1, in a thread; its base URL."""
    with serving(app) as base_url:
        yield base_url


@pytest.fixture
def login(client: FlaskClient) -> Callable[[str], FlaskClient]:
    """Sign ``client`` in as a user (CSRF included, as a browser would send it)."""

    return lambda username: sign_in(client, username, PASSWORD)
