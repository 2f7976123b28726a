"""``formflow plugin new``: the package it writes is a plugin whose own tests pass."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from formflow.cli import main
from formflow.plugins import Source, load_plugins
from formflow.scaffold import ScaffoldError, new_plugin


def test_plugin_new_writes_a_package_with_an_entry_point(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plugin", "new", "greeter", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "formflow-greeter"
    config = configparser.ConfigParser()
    config.read(folder / "setup.cfg", encoding="utf-8")
    assert config["metadata"]["name"] == "formflow-greeter"
    assert config["options.entry_points"]["formflow"].strip() == "greeter = formflow_greeter"
    assert (folder / "README.md").is_file()


def test_the_new_plugin_loads_with_its_hooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = new_plugin("greeter", tmp_path)
    monkeypatch.syspath_prepend(str(folder))
    import formflow_greeter  # type: ignore[import-not-found]

    [info] = [
        i
        for i in load_plugins(entry_points=False, extra=[formflow_greeter]).describe()
        if i.source is Source.EXTRA
    ]
    assert info.hooks == ("formflow_expression_functions", "formflow_record_buttons")


def test_the_new_plugin_passes_its_own_tests(tmp_path: Path) -> None:
    folder = new_plugin("greeter", tmp_path)
    environ = {**os.environ, "PYTHONPATH": str(folder)}
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "2 passed" in finished.stdout


@pytest.mark.parametrize("name", ["Greeter", "1st", "with-dash", ""])
def test_a_name_that_cannot_be_a_package_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ScaffoldError, match="cannot name a plugin"):
        new_plugin(name, tmp_path)


def test_an_existing_folder_is_left_alone(tmp_path: Path) -> None:
    new_plugin("greeter", tmp_path)
    with pytest.raises(ScaffoldError, match="exists already"):
        new_plugin("greeter", tmp_path)
