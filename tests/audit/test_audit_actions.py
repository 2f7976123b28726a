"""Every kind of act leaves an audit entry, written with the act, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from formflow import accounts, audit
from formflow.accounts import addresses, second_factor, sessions, tokens
from formflow.audit import AuditQuery
from formflow.lifecycle.install import migrate_app
from formflow.lifecycle.instance import Instance
from formflow.records import Actor
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import audit_entries
from support import MINIMAL_FORM_YAML, AppWriter

PASSWORD = "password-1"


def newest(instance: Instance, action: str | None = None) -> audit.Entry:
    with read_transaction(instance.engine) as connection:
        page = audit.search(connection, AuditQuery(action=action), limit=1)
    assert page.entries, f"no {action} entry"
    return page.entries[0].entry


def user_id(instance: Instance, username: str = "admin") -> int:
    with read_transaction(instance.engine) as connection:
        found = accounts.find_user(connection, username)
    assert found is not None
    return found.id


def test_installing_an_app_publishes_its_definition(instance: Instance) -> None:
    entry = newest(instance, "definition.publish")
    assert entry.app_key == "demo"
    assert entry.detail["number"] == 1


def test_migrating_an_app_publishes_its_new_definition(
    instance: Instance, write_app: AppWriter
) -> None:
    changed = MINIMAL_FORM_YAML.replace(
        "    required: true\n",
        "    required: true\n  - key: note\n    type: text\n    label: {zh: 备注, en: Note}\n",
    )
    migrate_app(instance, write_app(forms={"item": changed}), dry_run=False)
    assert newest(instance, "definition.publish").detail["number"] == 2


def test_each_record_change_names_the_record_and_the_fields(instance: Instance) -> None:
    records = instance.records("demo")
    actor = Actor.system()
    created = records.create(actor, "item", {"name": "first"})
    records.update(
        actor, "item", created["id"], {"name": "second"}, expected_version=created["version"]
    )
    records.delete(actor, "item", created["id"])
    records.restore(actor, "item", created["id"])
    with read_transaction(instance.engine) as connection:
        page = audit.search(connection, AuditQuery(action="record."))
    found = [(item.entry.action, item.entry.detail["fields"]) for item in reversed(page.entries)]
    assert found == [
        ("record.create", ["name"]),
        ("record.update", ["name"]),
        ("record.delete", []),
        ("record.restore", []),
    ]
    assert {
        (item.entry.app_key, item.entry.form_key, item.entry.record_id) for item in page.entries
    } == {("demo", "item", created["id"])}


def test_signing_in_and_out_is_logged(instance: Instance) -> None:
    admin = user_id(instance)
    with write_transaction(instance.engine) as connection:
        token = sessions.start_session(
            connection, admin, remember=False, user_agent="t", address="10.0.0.1"
        )
    assert (newest(instance).action, newest(instance).user_id) == ("sign_in", admin)
    with write_transaction(instance.engine) as connection:
        sessions.end_session_by_token(connection, token)
    assert (newest(instance).action, newest(instance).user_id) == ("sign_out", admin)


def test_a_failed_sign_in_names_the_username_tried(instance: Instance) -> None:
    with write_transaction(instance.engine) as connection:
        accounts.record_login_failure(connection, "mallory", "10.0.0.9", datetime.now(UTC))
    entry = newest(instance)
    assert (entry.action, entry.detail["username"]) == ("sign_in.failed", "mallory")


def test_token_creation_and_revocation_are_logged(instance: Instance) -> None:
    with write_transaction(instance.engine) as connection:
        token_id, _plain = tokens.create_token(connection, user_id(instance), "script")
    assert (newest(instance).action, newest(instance).detail["token"]) == ("token.create", token_id)
    with write_transaction(instance.engine) as connection:
        tokens.revoke_token(connection, None, token_id)
    assert (newest(instance).action, newest(instance).detail["token"]) == ("token.revoke", token_id)


def test_user_administration_is_logged_with_who_acted(instance: Instance) -> None:
    admin = user_id(instance)
    with audit.acting(user_id=admin, channel="web", address="10.1.1.1"):
        with write_transaction(instance.engine) as connection:
            department = accounts.create_department(connection, "Sales")
            li = accounts.create_user(connection, "li", PASSWORD)
            accounts.update_user(
                connection,
                li,
                display_name="Li Na",
                department_id=department,
                is_active=True,
                is_admin=False,
            )
            accounts.set_roles(connection, li, "demo", ["staff"])
            accounts.set_password(connection, "li", "another-password-2")
            accounts.update_department(
                connection, department, name="Sales East", parent_id=None, manager_id=li
            )
        with read_transaction(instance.engine) as connection:
            page = audit.search(connection, AuditQuery(user_id=admin), limit=6)
    found = [item.entry for item in reversed(page.entries)]
    assert [entry.action for entry in found] == [
        "department.create",
        "user.create",
        "user.update",
        "user.roles",
        "user.password",
        "department.update",
    ]
    assert found[2].detail["fields"] == ["display_name", "department_id"]
    assert {(entry.address, entry.detail["via"]) for entry in found} == {("10.1.1.1", "web")}


def test_address_rules_are_logged(instance: Instance) -> None:
    with write_transaction(instance.engine) as connection:
        rule = addresses.add_rule(connection, "10.0.0.0/8", user_id=user_id(instance))
    assert (newest(instance).action, newest(instance).detail["networks"]) == (
        "address_rule.add",
        ["10.0.0.0/8"],
    )
    with write_transaction(instance.engine) as connection:
        addresses.remove_rule(connection, rule)
    assert newest(instance).action == "address_rule.remove"


def test_second_factor_changes_are_logged(instance: Instance) -> None:
    import pyotp

    admin = user_id(instance)
    with write_transaction(instance.engine) as connection:
        secret = second_factor.begin_enrolment(connection, admin)
        second_factor.confirm_enrolment(connection, admin, pyotp.TOTP(secret).now())
        second_factor.turn_off(connection, admin)
    with read_transaction(instance.engine) as connection:
        page = audit.search(connection, AuditQuery(action="second_factor."))
    assert [item.entry.action for item in reversed(page.entries)] == [
        "second_factor.on",
        "second_factor.recovery_codes",
        "second_factor.off",
    ]


def test_nothing_is_logged_for_an_act_that_fails(instance: Instance) -> None:
    with read_transaction(instance.engine) as connection:
        before = audit.head(connection)
    with pytest.raises(accounts.AccountError), write_transaction(instance.engine) as connection:
        accounts.create_user(connection, "admin", PASSWORD)
    with read_transaction(instance.engine) as connection:
        assert audit.head(connection) == before
        assert (
            connection.execute(
                select(audit_entries.c.id).order_by(audit_entries.c.id.desc())
            ).first()[0]
            == before[0]
        )


def test_an_import_is_logged_with_what_it_did(instance: Instance, tmp_path: Path) -> None:
    from formflow.transfer.importing import ImportOptions, import_file

    sheet = tmp_path / "items.csv"
    sheet.write_text("name\nfirst\n\nsecond\n", encoding="utf-8")
    options = ImportOptions(mapping={0: "name"})
    import_file(instance.records("demo"), Actor.system(), "item", sheet, options)
    entry = newest(instance, "import")
    assert (entry.app_key, entry.form_key) == ("demo", "item")
    assert (entry.detail["created"], entry.detail["rolled_back"]) == (2, False)


def test_an_export_is_logged_with_the_fields_it_held(instance: Instance) -> None:
    from formflow.transfer.exporting import export_table

    export_table(instance.records("demo"), Actor.system(), "item")
    entry = newest(instance, "export")
    assert (entry.form_key, entry.detail["fields"]) == ("item", ["name"])
