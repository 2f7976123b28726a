"""Every whole rule in docs/automations.md compiles against the CRM app, as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from formflow.definitions import load_app
from support import CRM_APP, ROOT

DOC = ROOT / "docs" / "automations.md"
BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def whole_rules() -> list[str]:
    """The YAML blocks of the page that are whole rules (they start with a key)."""
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    return [
        block
        for block in blocks
        if re.search(r"^key: ", block, re.MULTILINE) and "trigger:" in block
    ]


def test_the_worked_examples_are_whole_valid_rules(tmp_path: Path) -> None:
    rules = whole_rules()
    assert len(rules) >= 8  # a whole rule for each trigger but updated, a fragment
    app = tmp_path / "crm"
    shutil.copytree(CRM_APP, app)
    for index, text in enumerate(rules):
        (app / "automations" / f"doc_{index}.yaml").write_text(
            text.replace("key: ", f"key: doc{index}_", 1), encoding="utf-8"
        )
    compiled = load_app(app)
    assert len(compiled.automations) == len(rules) + 1  # the app's own one besides


def test_the_crm_rule_shown_is_the_apps_own() -> None:
    name = "transfer_moves_customers"
    own = (CRM_APP / "automations" / f"{name}.yaml").read_text(encoding="utf-8")
    shown = f"# apps/crm_sfa/automations/{name}.yaml\n" + own[own.index("key: ") :]
    assert shown in DOC.read_text(encoding="utf-8")
