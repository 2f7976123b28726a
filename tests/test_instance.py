"""An opened instance."""

from __future__ import annotations

from pathlib import Path

from formflow import accounts
from formflow.config import load_settings
from formflow.lifecycle.install import initialise, migrate_app
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor
from formflow.storage.database import write_transaction
from support import MINIMAL_FORM_YAML, AppWriter, counting_statements

FORM = MINIMAL_FORM_YAML.replace(
    "  staff: {create: all, read: own, update: own, delete: none}",
    "  staff: {create: all, read: own, update: own, delete: none}\n  manager: {read: department}",
)


def test_a_user_s_records_follow_them_to_a_new_department(
    write_app: AppWriter, tmp_path: Path
) -> None:
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    initialise(settings, [write_app(forms={"item": FORM})], "admin", "password-1")
    instance = Instance(settings)
    try:
        with write_transaction(instance.engine) as connection:
            east = accounts.create_department(connection, "East")
            west = accounts.create_department(connection, "West")
            li = accounts.create_user(
                connection, "li", "password-1", department_id=east, roles={"demo": ["staff"]}
            )
            user = accounts.get_user(connection, li)
            assert user is not None
            li_actor = accounts.actor_for(connection, user, "demo")
        records = instance.records("demo")
        records.create(li_actor, "item", {"name": "li's"})
        west_manager = Actor(
            user_id=li + 1,
            roles=frozenset({"manager"}),
            department_id=west,
            department_ids=frozenset({west}),
        )
        assert records.find(west_manager, "item").rows == []
        assert instance.move_records_of(li, west) == 1
        assert [row["name"] for row in records.find(west_manager, "item").rows] == ["li's"]
    finally:
        instance.close()


def test_checking_the_version_in_force_reads_its_digest_alone(
    write_app: AppWriter, tmp_path: Path
) -> None:
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    initialise(settings, [write_app()], "admin", "password-1")
    instance = Instance(settings)
    try:
        instance.records("demo")
        instance.version_check_seconds = 0  # every use checks
        with counting_statements(instance.engine) as seen:
            instance.records("demo")
        (read,) = [text for text in seen if text.startswith("SELECT")]
        assert "digest" in read
        assert "files" not in read
    finally:
        instance.close()


def test_a_migration_made_by_another_process_is_noticed_at_the_next_check(
    write_app: AppWriter, tmp_path: Path
) -> None:
    app_dir = write_app()
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    initialise(settings, [app_dir], "admin", "password-1")
    serving, migrating = Instance(settings), Instance(settings)
    try:
        before = serving.records("demo").app.digest
        serving.version_check_seconds = 0
        form = app_dir / "forms" / "item.yaml"
        form.write_text(
            form.read_text(encoding="utf-8") + "list:\n  search: [name]\n", encoding="utf-8"
        )
        migrate_app(migrating, app_dir, dry_run=False)
        after = serving.records("demo").app.digest
        assert after != before
        assert after == migrating.records("demo").app.digest
    finally:
        serving.close()
        migrating.close()
