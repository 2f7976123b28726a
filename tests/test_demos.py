"""The engine runs the demo an app ships, and says clearly when an app has none."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from formflow.cli import main
from formflow.config import load_settings
from formflow.lifecycle.demos import DemoError, demo_folder, load_demo
from support import CRM_APP, AppWriter


def test_the_first_app_with_a_demo_is_the_default(write_app: AppWriter) -> None:
    assert demo_folder([write_app(), CRM_APP]) == CRM_APP


def test_no_app_with_a_demo_is_a_clear_error(write_app: AppWriter) -> None:
    with pytest.raises(DemoError, match="no app with a demo"):
        demo_folder([write_app()])


def test_with_no_apps_at_all_the_error_says_what_to_pass() -> None:
    with pytest.raises(
        DemoError,
        match=r"\(none found\); give the app's folder, as in `formflow demo path/to/app`, or set FORMFLOW_APPS",
    ):
        demo_folder([])


def test_a_demo_without_build_is_refused(write_app: AppWriter) -> None:
    app_dir = write_app()
    (app_dir / "demo").mkdir()
    (app_dir / "demo" / "__init__.py").write_text("VALUE = 1\n", encoding="utf-8")
    with pytest.raises(DemoError, match=r"has no build\(\) function"):
        load_demo(app_dir)


def test_the_command_names_an_app_without_a_demo(write_app: AppWriter, tmp_path: Path) -> None:
    app_dir = write_app()
    env = {"FORMFLOW_INSTANCE": str(tmp_path / "instance"), "FORMFLOW_DATABASE_URL": ""}
    result = CliRunner().invoke(main, ["demo", str(app_dir)], env=env)
    assert result.exit_code == 1
    assert f"the app in {app_dir} has no demo" in result.output


def test_without_formflow_apps_every_app_folder_in_apps_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("sales", "hr"):
        (tmp_path / "apps" / key).mkdir(parents=True)
        (tmp_path / "apps" / key / "app.yaml").write_text(f"key: {key}\n", encoding="utf-8")
    (tmp_path / "apps" / "notes").mkdir()
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    assert [folder.name for folder in settings.apps] == ["hr", "sales"]


def test_outside_a_checkout_folder_the_apps_that_come_with_formflow_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")})
    assert settings.apps == (CRM_APP,)
    assert demo_folder(settings.apps) == CRM_APP


def test_relative_app_folders_mean_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"FORMFLOW_APPS": "mine:../theirs"})
    assert settings.apps == (tmp_path / "mine", tmp_path.parent / "theirs")
