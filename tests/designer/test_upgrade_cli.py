"""``formflow upgrade APP --from FOLDER``: the merge's report, and with it the draft."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result
from upgrade_fixture import BASE_FORM, PATH, THEIRS_FORM

from formflow.cli import main
from formflow.config import load_settings
from formflow.designer import Designer
from formflow.designer.operations import ConfigureField
from formflow.lifecycle.instance import Instance
from support import MINIMAL_APP_YAML, AppWriter


def invoke(tmp_path: Path, *args: str) -> Result:
    env = {
        "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
        "FORMFLOW_DATABASE_URL": "",
        "FORMFLOW_APPS": "",
    }
    return CliRunner().invoke(main, list(args), env=env)


def customised(tmp_path: Path, write_app: AppWriter) -> Path:
    """An installed app whose field ``a`` the admin relabelled, and the next release."""
    invoke(tmp_path, "init", str(write_app(forms={"item": BASE_FORM})), "--password", "s3cret-pass")
    instance = Instance(load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")}))
    try:
        designer = Designer(instance)
        revision = designer.draft("demo").files[PATH].revision
        relabel = ConfigureField("a", "label", {"zh": "品名", "en": "Product"})
        designer.apply("demo", PATH, revision, [relabel], user_id=None)
        designer.publish("demo", None, "admin", "ours")
    finally:
        instance.close()
    release = tmp_path / "release"
    (release / "forms").mkdir(parents=True)
    (release / "app.yaml").write_text(MINIMAL_APP_YAML.replace('"1.0"', '"2.0"'), encoding="utf-8")
    (release / PATH).write_text(THEIRS_FORM, encoding="utf-8")
    return release


def test_the_plan_prints_what_merges_and_every_issue(tmp_path: Path, write_app: AppWriter) -> None:
    release = customised(tmp_path, write_app)
    result = invoke(tmp_path, "upgrade", "demo", "--from", str(release), "--plan")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  release removed: forms/item.yaml fields/d" in lines
    assert "conflicts: 1" in lines
    assert (
        '  forms/item.yaml fields/a/label: shipped before {"zh": "名称", "en": "Name"}, '
        'shipped now {"zh": "物品名称", "en": "Item name"}, yours {"zh": "品名", "en": "Product"}'
    ) in lines
    assert "orphans: 0" in lines
    assert "decisions: 1" in lines
    assert "the merge is" not in result.output


def test_without_plan_the_merge_becomes_the_draft(tmp_path: Path, write_app: AppWriter) -> None:
    release = customised(tmp_path, write_app)
    result = invoke(tmp_path, "upgrade", "demo", "--from", str(release))
    assert result.exit_code == 0, result.output
    assert "resolve it at /admin/designer/demo/upgrade" in result.output
    again = invoke(tmp_path, "upgrade", "demo", "--from", str(release))
    assert again.exit_code == 1
    assert "an upgrade of 'demo' is being resolved" in again.output


def test_a_release_of_another_app_is_refused(tmp_path: Path, write_app: AppWriter) -> None:
    release = customised(tmp_path, write_app)
    app_yaml = release / "app.yaml"
    app_yaml.write_text(
        app_yaml.read_text(encoding="utf-8").replace("key: demo", "key: other"), encoding="utf-8"
    )
    result = invoke(tmp_path, "upgrade", "demo", "--from", str(release), "--plan")
    assert result.exit_code == 1
    assert "the folder holds app 'other', not 'demo'" in result.output
