"""formflow.testing: what a plugin author gets to test a plugin against a real instance.

These tests use the guide's example plugin the way its author would.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from formflow.errors import DefinitionErrors, VetoedByPlugin
from formflow.testing import Sandbox, SandboxError
from support import MINIMAL_APP_YAML
from test_plugins import ADULT, CHILD, PERSON_FORM, import_plugin

FILES = {"app.yaml": MINIMAL_APP_YAML, "forms/person.yaml": PERSON_FORM}


@pytest.fixture(scope="module")
def cn_id_card() -> ModuleType:
    return import_plugin("cn_id_card")


@pytest.fixture
def box(tmp_path: Path, cn_id_card: ModuleType, database_url: str) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, FILES, plugins=[cn_id_card], database_url=database_url) as box:
        yield box


def test_an_app_using_the_plugin_is_installed_with_it(box: Sandbox) -> None:
    assert box.app_key == "demo"
    assert box.app.form("person").field("id_no").type == "cn_id_card"
    names = [info.name for info in box.plugins.describe()]
    assert names == ["formflow.builtin", "test_plugins_cn_id_card"]


def test_records_go_through_the_plugin_s_type_function_and_hooks(box: Sandbox) -> None:
    staff = box.add_user("alice", roles=["staff"])
    person = box.records.create(staff, "person", {"name": "Li Lei", "id_no": ADULT})
    assert person["born"] == datetime.date(1949, 12, 31)
    with pytest.raises(VetoedByPlugin, match="must be 18 or over"):
        box.records.create(staff, "person", {"name": "Xiao Ming", "id_no": CHILD})


def test_pages_and_the_api_answer_a_signed_in_user(box: Sandbox) -> None:
    staff = box.add_user("alice", roles=["staff"])
    person = box.records.create(staff, "person", {"name": "Li Lei", "id_no": ADULT})
    page = box.client("alice").get(f"/demo/person/{person['id']}")
    assert page.status_code == 200
    assert ADULT in page.text
    assert box.client().get(f"/demo/person/{person['id']}").status_code == 302  # to sign in


def test_a_wrong_password_or_unknown_user_says_so(box: Sandbox) -> None:
    box.add_user("alice", roles=["staff"], password="another-password-1")
    with pytest.raises(SandboxError, match="could not sign in"):
        box.client("alice")
    with pytest.raises(SandboxError, match="no user 'bob'"):
        box.actor("bob")


def test_a_department_scopes_a_user(box: Sandbox) -> None:
    east = box.add_department("East")
    staff = box.add_user("alice", roles=["staff"], department_id=east)
    assert staff.department_id == east


def test_without_the_plugin_the_app_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DefinitionErrors, match="cn_id_card"):
        Sandbox(tmp_path, FILES)


def test_a_plugins_folder_is_loaded_like_formflow_plugins_dir(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    source = Path(__file__).parent / "plugins" / "cn_id_card.py"
    (folder / "cn_id_card.py").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    with Sandbox(tmp_path, FILES, plugins_dir=folder) as box:
        assert "cn_id_card.py" in [info.name for info in box.plugins.describe()]


def test_the_guide_s_sandbox_example_runs(
    tmp_path: Path, cn_id_card: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    guide = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = guide[guide.index("## Testing a plugin") :]
    code = section[section.index("```python\n") + len("```python\n") : section.index("```\n")]
    assert "Sandbox(tmp_path, APP" in code
    monkeypatch.setitem(sys.modules, "formflow_cn_id_card", cn_id_card)
    example: dict[str, Any] = {}
    exec(compile(code, "docs/plugins.md", "exec"), example)
    example["test_an_id_card_number_is_kept_and_shown"](tmp_path)
