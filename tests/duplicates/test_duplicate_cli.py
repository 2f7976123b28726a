"""``formflow duplicates rebuild``: the keys made again from the live records."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from formflow.cli import main
from support import MINIMAL_APP_YAML, AppWriter

CHECKS = """\
duplicate_checks:
  - {key: name, fields: [item.name], normalise: company_name, effect: warn}
"""


def test_rebuild_counts_the_keys_of_every_app(write_app: AppWriter, tmp_path: Path) -> None:
    env = {
        "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
        "FORMFLOW_DATABASE_URL": "",
        "FORMFLOW_APPS": "",
    }

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=env, input=input)

    assert run("init", str(write_app(MINIMAL_APP_YAML + CHECKS)), "--password", "s3cret-pass")
    typed = 'records("demo").create(system, "item", {"name": "Acme Co., Ltd."})\n'
    assert run("shell", input=typed).exit_code == 0
    result = run("duplicates", "rebuild")
    assert result.exit_code == 0, result.output
    assert result.output == "demo: 1 duplicate keys\n"
    unknown = run("duplicates", "rebuild", "nope")
    assert unknown.exit_code == 1
