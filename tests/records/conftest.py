"""A small app for record-service tests, with users in two departments.

``shop`` has accounts (owned by a user field), people (linked to accounts, deleted with
them) and orders (auto-numbered, with line rows, formulas and conditional fields).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sales import sales  # noqa: F401  (import and export tests' app)
from shop import SHOP_DIR, People
from sqlalchemy import Engine

from formflow import accounts
from formflow.definitions import App, load_app
from formflow.records.search import ensure_search_index
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.storage.tables import AppSchema
from records.helpers import DATABASES, module_engine


@pytest.fixture(scope="session")
def shop_app() -> App:
    return load_app(SHOP_DIR)


@pytest.fixture
def schema(engine: Engine, shop_app: App) -> AppSchema:
    schema = AppSchema(shop_app)
    schema.metadata.create_all(engine)
    with write_transaction(engine) as connection:
        for form_key in shop_app.forms:
            ensure_search_index(connection, schema, form_key)
    return schema


@pytest.fixture
def service(engine: Engine, schema: AppSchema) -> RecordService:
    return RecordService(engine, schema)


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One hash for every test user: scrypt is slow on purpose, tests need not pay it each time."""
    return accounts.hash_password("password1")


@pytest.fixture
def people(engine: Engine, schema: AppSchema, password_hash: str) -> People:
    with write_transaction(engine) as connection:
        sales = accounts.create_department(connection, "Sales")
        east = accounts.create_department(connection, "East", parent_id=sales)
        west = accounts.create_department(connection, "West", parent_id=sales)
        ids = {
            "alice": accounts.create_user(
                connection,
                "alice",
                None,
                password_hash=password_hash,
                department_id=east,
                roles={"shop": ["staff"]},
            ),
            "bob": accounts.create_user(
                connection,
                "bob",
                None,
                password_hash=password_hash,
                department_id=east,
                roles={"shop": ["staff"]},
            ),
            "carol": accounts.create_user(
                connection,
                "carol",
                None,
                password_hash=password_hash,
                department_id=sales,
                roles={"shop": ["manager"]},
            ),
            "west": accounts.create_user(
                connection,
                "wendy",
                None,
                password_hash=password_hash,
                department_id=west,
                roles={"shop": ["staff"]},
            ),
            "admin": accounts.create_user(
                connection, "admin", None, password_hash=password_hash, is_admin=True
            ),
        }
        actors = {}
        for name, user_id in ids.items():
            user = accounts.get_user(connection, user_id)
            assert user is not None
            actors[name] = accounts.actor_for(connection, user, "shop")
    return People(**actors)


@pytest.fixture(scope="module", params=DATABASES)
def db(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_database: str | None,
) -> Iterator[Engine]:
    """One database per test module and dialect, for modules whose tests only read."""
    yield from module_engine(request.param, tmp_path_factory, postgres_database)
