"""`formflow audit verify` and `formflow audit export`, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from click.testing import Result
from sqlalchemy import update

from formflow.lifecycle.instance import Instance
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import audit_entries

Run = Callable[..., Result]


def test_verify_reports_an_intact_log_with_its_head(run: Run) -> None:
    result = run("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("audit log intact: ")


def test_verify_names_the_edited_entry_and_fails(run: Run, instance: Instance) -> None:
    with write_transaction(instance.engine) as connection:
        connection.execute(update(audit_entries).where(audit_entries.c.id == 1).values(action="x"))
    result = run("audit", "verify")
    assert result.exit_code == 1
    assert "audit log broken at entry 1 (edited)" in result.output


def test_commands_are_logged_as_coming_from_the_command_line(run: Run) -> None:
    assert run("token", "create", "admin", "--name", "nightly").exit_code == 0
    result = run("audit", "export", "--action", "token.create")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(row["action"], row["username"]) for row in rows] == [("token.create", "")]
    assert '"via": "cli"' in rows[0]["detail"]
    assert '"name": "nightly"' in rows[0]["detail"]


def test_export_filters_by_user(run: Run) -> None:
    assert run("user", "create", "li", "--password", "a-long-passphrase-9").exit_code == 0
    result = run("audit", "export", "--user", "admin")
    assert result.exit_code == 0
    assert list(csv.DictReader(io.StringIO(result.output))) == []
