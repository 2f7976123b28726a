"""Fixtures for the automations tests: the rules app with the rules a test gives, its people."""

from __future__ import annotations

from pathlib import Path

import pytest
from rules_support import MakeRules, Rules, build_rules, rules_folder
from sqlalchemy import Engine

from formflow import accounts
from formflow.storage.database import write_transaction


@pytest.fixture(scope="session")
def password_hash() -> str:
    return accounts.hash_password("password1")


@pytest.fixture
def make_rules(engine: Engine, tmp_path: Path, password_hash: str) -> MakeRules:
    """``make_rules(name=YAML, ...)``: the rules app with those automations, running, and
    users ann and bob (staff) and max (manager) in ``rules.users``."""

    def make(max_depth: int = 5, **automations: str) -> Rules:
        rules = build_rules(engine, rules_folder(tmp_path, automations), max_depth=max_depth)
        with write_transaction(engine) as connection:
            for name, role in (("ann", "staff"), ("bob", "staff"), ("max", "manager")):
                rules.users[name] = accounts.create_user(
                    connection,
                    name,
                    None,
                    password_hash=password_hash,
                    department_id=None,
                    roles={"rules": [role]},
                )
        return rules

    return make
