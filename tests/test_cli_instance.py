"""The instance commands: init, migrate, versions, purge, users and plugins."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from formflow.cli import main
from support import AppWriter

ADDED_FIELD = "  - {key: note, type: textarea, label: 备注}\n"


@pytest.fixture
def run(tmp_path: Path) -> object:
    env = {
        "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
        "FORMFLOW_DATABASE_URL": "",
        "FORMFLOW_APPS": "",
    }

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=env, input=input)

    return invoke


def add_field(app_dir: Path, text: str = ADDED_FIELD) -> None:
    form = app_dir / "forms" / "item.yaml"
    form.write_text(
        form.read_text(encoding="utf-8").replace("permissions:", text + "permissions:"),
        encoding="utf-8",
    )


def test_init_creates_the_database_the_app_and_an_administrator(
    run, write_app: AppWriter, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    result = run("init", str(write_app()), "--password", "s3cret-pass")
    assert result.exit_code == 0, result.output
    assert "app: migrated to version 1 (1.0)" in result.output
    assert "administrator: admin / (the password you gave)" in result.output
    assert (tmp_path / "instance" / "formflow.db").exists()


def test_init_twice_is_safe(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    app = str(write_app())
    run("init", app, "--password", "s3cret-pass")
    again = run("init", app)
    assert again.exit_code == 0, again.output
    assert "app: up to date" in again.output
    assert "administrator" not in again.output


def test_migrate_plan_shows_the_change_and_changes_nothing(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    app_dir = write_app()
    run("init", str(app_dir), "--password", "s3cret-pass")
    add_field(app_dir)
    plan = run("migrate", "--plan", str(app_dir))
    assert plan.exit_code == 0, plan.output
    assert "1. add column demo__item.note TEXT  [demo__item: schema]" in plan.output
    assert "2 steps planned" in plan.output
    assert "#1" in run("versions", "demo").output
    assert "#2" not in run("versions", "demo").output


def test_migrate_plan_shows_the_search_steps_and_changes_nothing(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    app_dir = write_app()
    run("init", str(app_dir), "--password", "s3cret-pass")
    form = app_dir / "forms" / "item.yaml"
    form.write_text(form.read_text(encoding="utf-8") + "list:\n  search: [name]\n", "utf-8")
    plan = run("migrate", "--plan", str(app_dir))
    assert plan.exit_code == 0, plan.output
    assert plan.output.splitlines() == [
        "app: 3 steps planned",
        "  all in one transaction: if any step fails, nothing is changed; no step deletes data",
        "  1. add column demo__item._search TEXT  [demo__item: schema]",
        "  2. create search index demo__item_fts (FTS5 over demo__item._search)  "
        "[demo__item, demo__item_fts: search index]",
        "  3. record version 2 (1.0) of app demo as current  "
        "[ff_definition_versions: definition version]",
    ]
    assert "#2" not in run("versions", "demo").output
    assert "app: 3 steps planned" in run("migrate", "--plan", str(app_dir)).output


def test_migrate_applies_and_records_a_version(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    app_dir = write_app()
    run("init", str(app_dir), "--password", "s3cret-pass")
    add_field(app_dir)
    result = run("migrate", str(app_dir))
    assert result.exit_code == 0, result.output
    assert "migrated to version 2" in result.output
    versions = run("versions").output.splitlines()
    assert [line[:12] for line in versions] == ["  demo #1  1", "* demo #2  1"]


def test_a_refused_migration_exits_1_with_the_reason(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    app_dir = write_app()
    run("init", str(app_dir), "--password", "s3cret-pass")
    broken = app_dir / "forms" / "item.yaml"
    broken.write_text(
        broken.read_text(encoding="utf-8").replace("title_field: name", "title_field: nope"),
        encoding="utf-8",
    )
    result = run("migrate", str(app_dir))
    assert result.exit_code == 1
    assert "unknown field 'nope'" in result.output


def test_rollback_to_an_earlier_version(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    app_dir = write_app()
    run("init", str(app_dir), "--password", "s3cret-pass")
    add_field(app_dir)
    run("migrate", str(app_dir))
    result = run("migrate", "--app", "demo", "--to-version", "1")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "demo: migrated to version 3 (1.0)",
        "  all in one transaction: if any step fails, nothing is changed; no step deletes data",
        "  1. keep column demo__item.note hidden: the field was removed; its data stays until a "
        "purge  [demo__item: changes nothing]",
        "  2. record version 3 (1.0) of app demo as current  "
        "[ff_definition_versions: definition version]",
    ]
    assert "rollback to version 1" in run("versions").output


def test_migrate_to_version_plan_shows_a_rename_undone(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    app_dir = write_app()
    add_field(app_dir)
    run("init", str(app_dir), "--password", "s3cret-pass")
    form = app_dir / "forms" / "item.yaml"
    renamed = "  - {key: remark, type: textarea, label: 备注, renamed_from: note}\n"
    form.write_text(form.read_text(encoding="utf-8").replace(ADDED_FIELD, renamed), "utf-8")
    run("migrate", str(app_dir))
    plan = run("migrate", "--app", "demo", "--to-version", "1", "--plan")
    assert plan.exit_code == 0, plan.output
    assert plan.output.splitlines() == [
        "demo: 2 steps planned",
        "  all in one transaction: if any step fails, nothing is changed; no step deletes data",
        "  1. rename column demo__item.remark to note (data kept)  [demo__item: schema]",
        "  2. record version 3 (1.0) of app demo as current  "
        "[ff_definition_versions: definition version]",
    ]


def test_purge_drops_what_a_removed_field_left(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    app_dir = write_app()
    add_field(app_dir)
    run("init", str(app_dir), "--password", "s3cret-pass")
    form = app_dir / "forms" / "item.yaml"
    form.write_text(form.read_text(encoding="utf-8").replace(ADDED_FIELD, ""), encoding="utf-8")
    run("migrate", str(app_dir))
    result = run("purge", "demo", "--yes")
    assert result.exit_code == 0, result.output
    assert "demo__item.note" in result.output
    assert run("purge", "demo", "--yes").output == "nothing to purge\n"


def test_user_create_and_passwd(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    run("init", str(write_app()), "--password", "s3cret-pass")
    created = run("user", "create", "li", "--password", "river-stone-41", "--role", "demo:staff")
    assert created.exit_code == 0, created.output
    assert run("user", "passwd", "li", "--password", "river-stone-42").exit_code == 0
    missing = run("user", "passwd", "nobody", "--password", "river-stone-42")
    assert (missing.exit_code, missing.output) == (1, "Error: no user 'nobody'\n")


def test_a_guessable_password_is_refused_from_the_command_line(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    run("init", str(write_app()), "--password", "s3cret-pass")
    created = run("user", "create", "li", "--password", "Password123")
    assert created.exit_code == 1
    assert "common" in created.output


def test_a_role_the_app_does_not_declare_is_refused(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    run("init", str(write_app()), "--password", "s3cret-pass")
    result = run("user", "create", "li", "--password", "password-1", "--role", "demo:boss")
    assert result.exit_code == 1
    assert "app demo has no role 'boss'" in result.output


def test_plugins_lists_the_built_in_plugin(run) -> None:  # type: ignore[no-untyped-def]
    result = run("plugins")
    assert result.exit_code == 0, result.output
    assert "formflow.builtin" in result.output


def test_commands_on_an_uninitialised_instance_say_what_to_do(run) -> None:  # type: ignore[no-untyped-def]
    result = run("versions")
    assert result.exit_code == 1
    assert "run `formflow init`" in result.output


def test_the_shell_opens_the_instance_with_its_record_services(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    run("init", str(write_app()), "--password", "s3cret-pass")
    typed = "\n".join(
        [
            'made = records("demo").create(system, "item", {"name": "From the shell"})',
            'print("found", records("demo").find(system, "item").rows[0]["name"])',
            "",
        ]
    )
    result = run("shell", input=typed)
    assert result.exit_code == 0, result.output
    assert "instance, records, Actor, system" in result.output
    assert "found From the shell" in result.output


PLUGIN_FORM = """\
key: item
label: {zh: 条目, en: Item}
title_field: name
fields:
  - {key: name, type: text, label: 名称}
  - {key: id_card, type: cn_id_card, label: 身份证}
  - {key: born, type: formula, label: 出生日期, expression: "id_card_birth_date(id_card)", result: date}
permissions: {}
"""


def test_an_app_using_a_plugin_validates_initialises_and_migrates_alike(
    tmp_path: Path, write_app: AppWriter
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    source = Path(__file__).parent / "plugins" / "cn_id_card.py"
    (plugins / "cn_id_card.py").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    env = {
        "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
        "FORMFLOW_DATABASE_URL": "",
        "FORMFLOW_APPS": "",
        "FORMFLOW_PLUGINS_DIR": str(plugins),
    }
    app = str(write_app(forms={"item": PLUGIN_FORM}))

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env)

    for step in (("validate", app), ("init", app, "--password", "s3cret-pass")):
        result = run(*step)
        assert result.exit_code == 0, (step, result.output)
    add_field(Path(app))
    migrated = run("migrate", app)
    assert migrated.exit_code == 0, migrated.output


def test_a_plan_that_would_be_refused_exits_1_with_the_reason(
    run, write_app: AppWriter, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    app_dir = write_app()
    run("init", str(app_dir), "--password", "s3cret-pass")
    source = tmp_path / "items.csv"
    source.write_text("名称\nfirst\n", encoding="utf-8")
    assert run("import", "demo/item", str(source)).exit_code == 0
    add_field(app_dir, "  - {key: note, type: text, label: 备注, required: true}\n")
    plan = run("migrate", "--plan", str(app_dir))
    assert plan.exit_code == 1, plan.output
    assert plan.output.splitlines()[0] == "app: 2 steps planned, but refused (see below)"
    assert "refused: demo__item.note: 1 " in plan.output


def test_versions_tell_when_on_the_instance_s_clock(run, write_app: AppWriter) -> None:  # type: ignore[no-untyped-def]
    run("init", str(write_app()), "--password", "s3cret-pass")
    [line] = run("versions", "demo").output.splitlines()
    stamp = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line)
    assert stamp is not None, line
    shown = datetime.strptime(stamp.group(), "%Y-%m-%d %H:%M")
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)  # the default clock
    assert abs((now - shown).total_seconds()) < 180, (shown, now)


DOWN_SERVER = "postgresql://formflow@127.0.0.1:1/formflow"
"""A PostgreSQL URL nothing answers at: port 1 refuses every connection."""


def run_against(database_url: str, instance: Path, *args: str) -> Result:
    env = {"FORMFLOW_INSTANCE": str(instance), "FORMFLOW_DATABASE_URL": database_url}
    return CliRunner().invoke(main, list(args), env=env)


@pytest.mark.parametrize("command", [("init", "--password", "s3cret-pass"), ("user", "list")])
def test_a_database_server_that_does_not_answer_is_named_in_one_line(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    result = run_against(DOWN_SERVER, tmp_path / "instance", *command)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.output.startswith(
        "Error: cannot connect to the database postgresql://formflow@127.0.0.1:1/formflow: "
    )
    assert len(result.output.splitlines()) == 1
    assert "formflow init" not in result.output


def test_init_says_when_the_instance_folder_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    result = run_against("", tmp_path / "a-file" / "instance", "init", "--password", "s3cret-pass")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.output.startswith(f"Error: cannot make the instance folder {tmp_path}")
