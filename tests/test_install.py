"""Installing and migrating apps in an instance (the functions behind the commands)."""

from __future__ import annotations

from pathlib import Path

from formflow.config import load_settings
from formflow.lifecycle.install import initialise, migrate_app
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor
from formflow.records.query import Query
from support import AppWriter


def test_records_become_searchable_when_a_form_gains_search_fields(
    write_app: AppWriter, tmp_path: Path
) -> None:
    app_dir = write_app()
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    initialise(settings, [app_dir], "admin", "password-1")
    instance = Instance(settings)
    try:
        instance.records("demo").create(Actor.system(), "item", {"name": "华为技术"})
        form = app_dir / "forms" / "item.yaml"
        form.write_text(
            form.read_text(encoding="utf-8") + "list:\n  search: [name]\n", encoding="utf-8"
        )
        migrate_app(instance, app_dir, dry_run=False)
        page = instance.records("demo").find(Actor.system(), "item", Query(search="华为"))
        assert [row["name"] for row in page.rows] == ["华为技术"]
    finally:
        instance.close()


def test_an_instance_without_apps_still_gets_its_administrator(tmp_path: Path) -> None:
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    outcome = initialise(settings, [], "admin", "password-1")
    assert outcome.admin_created


def test_records_are_searched_by_new_fields_when_a_form_changes_its_search(
    write_app: AppWriter, tmp_path: Path
) -> None:
    app_dir = write_app()
    form = app_dir / "forms" / "item.yaml"
    original = form.read_text(encoding="utf-8")
    note = "  - {key: note, type: text, label: Note}\npermissions:"
    form.write_text(
        original.replace("permissions:", note) + "list:\n  search: [name]\n", encoding="utf-8"
    )
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    initialise(settings, [app_dir], "admin", "password-1")
    instance = Instance(settings)
    try:
        records = instance.records("demo")
        records.create(Actor.system(), "item", {"name": "Acme", "note": "华为代理"})
        form.write_text(
            original.replace("permissions:", note) + "list:\n  search: [name, note]\n",
            encoding="utf-8",
        )
        migrate_app(instance, app_dir, dry_run=False)
        page = instance.records("demo").find(Actor.system(), "item", Query(search="华为"))
        assert [row["name"] for row in page.rows] == ["Acme"]
    finally:
        instance.close()


def test_a_changed_formula_shows_its_new_value_on_existing_records(
    write_app: AppWriter, tmp_path: Path
) -> None:
    app_dir = write_app()
    form = app_dir / "forms" / "item.yaml"
    original = form.read_text(encoding="utf-8")
    shout = (
        '  - {{key: shout, type: formula, result: text, label: S, expression: "{}"}}\npermissions:'
    )
    form.write_text(original.replace("permissions:", shout.format("name ~ '!'")), "utf-8")
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    initialise(settings, [app_dir], "admin", "password-1")
    instance = Instance(settings)
    try:
        record = instance.records("demo").create(Actor.system(), "item", {"name": "Acme"})
        form.write_text(original.replace("permissions:", shout.format("name ~ '?'")), "utf-8")
        outcome = migrate_app(instance, app_dir, dry_run=False)
        assert "recompute formula shout of form item for 1 row" in "\n".join(outcome.lines)
        stored = instance.records("demo").get(Actor.system(), "item", record["id"])
        assert stored["shout"] == "Acme?"
    finally:
        instance.close()


def test_a_default_filled_in_by_a_migration_is_searchable(
    write_app: AppWriter, tmp_path: Path
) -> None:
    app_dir = write_app()
    form = app_dir / "forms" / "item.yaml"
    original = form.read_text(encoding="utf-8")
    note = "  - {key: note, type: text, label: Note}\npermissions:"
    searched = "list:\n  search: [name, note]\n"
    form.write_text(original.replace("permissions:", note) + searched, encoding="utf-8")
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    initialise(settings, [app_dir], "admin", "password-1")
    instance = Instance(settings)
    try:
        instance.records("demo").create(Actor.system(), "item", {"name": "Acme"})
        required = "  - {key: note, type: text, label: Note, required: true, default: 华为代理}\n"
        form.write_text(
            original.replace("permissions:", required + "permissions:") + searched, "utf-8"
        )
        migrate_app(instance, app_dir, dry_run=False)
        page = instance.records("demo").find(Actor.system(), "item", Query(search="华为"))
        assert [row["name"] for row in page.rows] == ["Acme"]
    finally:
        instance.close()
