"""The ``formflow`` command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from formflow import __version__
from formflow.cli import main
from support import CRM_APP, AppWriter


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"formflow, version {__version__}\n"


def test_validate_a_valid_app_prints_one_summary_line() -> None:
    result = CliRunner().invoke(main, ["validate", str(CRM_APP)])
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert line.startswith(f"{CRM_APP}: valid: crm_sfa ")


def test_validate_a_broken_copy_prints_one_line_per_error_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "crm"
    shutil.copytree(CRM_APP, broken)
    customer = broken / "forms" / "customer.yaml"
    customer.write_text(
        customer.read_text(encoding="utf-8").replace("title_field: name", "title_field: nmae", 1),
        encoding="utf-8",
    )
    (broken / "forms" / "stray.yaml").write_text("key: stray\nlabel: x\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(broken)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{customer}:")
    assert "unknown field 'nmae'; did you mean 'name'?" in lines[0]
    assert lines[1:] == [
        f"{broken}/forms/stray.yaml:1:1: missing required key '{key}'"
        for key in ("fields", "permissions", "title_field")
    ]
    assert result.stderr == f"{broken}: 4 problems found\n"


@pytest.mark.parametrize(
    "nested", ["(" * 500 + "name" + ")" * 500, "not " * 500 + "name", " + ".join(["name"] * 500)]
)
def test_validate_reports_a_deeply_nested_expression_at_its_place(
    write_app: AppWriter, nested: str
) -> None:
    root = write_app(
        forms={
            "item": "key: item\nlabel: {zh: 条目, en: Item}\ntitle_field: name\nfields:\n"
            f'  - {{key: name, type: text, label: 名称, visible_if: "{nested}"}}\n'
            "permissions: {}\n"
        }
    )
    result = CliRunner().invoke(main, ["validate", str(root)])
    assert result.exit_code == 1
    assert result.stdout == (
        f"{root}/forms/item.yaml:5:52: expression does not parse:"
        " it is nested more than 50 levels deep; split it up\n"
    )


def test_validate_a_missing_folder_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert (
        result.stdout
        == f"{tmp_path / 'none'}:1:1: not a folder; give the folder that holds app.yaml\n"
    )


def test_the_installed_command_runs() -> None:
    command = Path(sys.executable).with_name("formflow")
    completed = subprocess.run(
        [command, "validate", str(CRM_APP)], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "valid: crm_sfa" in completed.stdout


def test_validate_stops_at_a_bad_setting_in_one_line() -> None:
    env = {"FORMFLOW_PLUGINS": "no_such_plugin"}
    result = CliRunner().invoke(main, ["validate", str(CRM_APP)], env=env)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.output.startswith("Error: FORMFLOW_PLUGINS names 'no_such_plugin'")
    assert len(result.output.splitlines()) == 1


def every_command(group: click.Group, context: click.Context) -> list[click.Command]:
    found: list[click.Command] = []
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        found.append(command)
        if isinstance(command, click.Group):
            found += every_command(command, context)
    return found


def test_every_command_s_help_is_plain_text() -> None:
    """Help is read in a terminal: reStructuredText's double backticks show as they are."""
    context = click.Context(main)
    marked = [
        command.name
        for command in every_command(main, context)
        if "``" in (command.help or "") or "``" in (command.short_help or "")
    ]
    assert marked == []
