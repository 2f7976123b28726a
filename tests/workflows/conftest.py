"""An app with two approval flows, its people and the engine, on both databases."""

from __future__ import annotations

import pytest
from flow_people import FLOWS_DIR, Staff, stamp_action
from sqlalchemy import Engine

from formflow import accounts
from formflow.definitions import App, load_app
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.storage.tables import AppSchema
from formflow.workflows.service import WorkflowService


@pytest.fixture(scope="session")
def flows_app() -> App:
    return load_app(FLOWS_DIR)


@pytest.fixture(scope="session")
def password_hash() -> str:
    return accounts.hash_password("password1")


@pytest.fixture
def schema(engine: Engine, flows_app: App) -> AppSchema:
    schema = AppSchema(flows_app)
    schema.metadata.create_all(engine)
    return schema


@pytest.fixture
def records(engine: Engine, schema: AppSchema) -> RecordService:
    return RecordService(engine, schema)


@pytest.fixture
def stamped() -> list[tuple[int, str]]:
    """What the leave flow's plugin action was run on."""
    return []


@pytest.fixture
def flows(records: RecordService, stamped: list[tuple[int, str]]) -> WorkflowService:
    return WorkflowService(records, actions=[stamp_action(stamped)])


@pytest.fixture
def staff(engine: Engine, schema: AppSchema, password_hash: str) -> Staff:
    def user(name: str, department: int | None, *roles: str, admin: bool = False) -> int:
        return accounts.create_user(
            connection,
            name,
            None,
            password_hash=password_hash,
            department_id=department,
            roles={"flows": list(roles)},
            is_admin=admin,
        )

    with write_transaction(engine) as connection:
        company = accounts.create_department(connection, "Company")
        sales = accounts.create_department(connection, "Sales", parent_id=company)
        east = accounts.create_department(connection, "East", parent_id=sales)
        ids = {
            "rita": user("rita", east, "staff"),
            "ray": user("ray", east, "staff"),
            "erin": user("erin", east, "manager"),
            "mark": user("mark", sales, "manager"),
            "dora": user("dora", company, "director"),
            "fiona": user("fiona", None, "finance"),
            "fred": user("fred", None, "finance"),
            "nina": user("nina", None, "staff"),
            "admin": user("admin", None, admin=True),
        }
        accounts.update_department(
            connection, company, name="Company", parent_id=None, manager_id=ids["dora"]
        )
        accounts.update_department(
            connection, sales, name="Sales", parent_id=company, manager_id=ids["mark"]
        )
        accounts.update_department(
            connection, east, name="East", parent_id=sales, manager_id=ids["erin"]
        )
        actors = {}
        for name, user_id in ids.items():
            found = accounts.get_user(connection, user_id)
            assert found is not None
            actors[name] = accounts.actor_for(connection, found, "flows")
    return Staff(**actors)
