"""Conditions worked out in the browser see what a chosen link fills in: a field shown or
required only for a kind of group follows the group just picked, before anything is saved,
and the save agrees (a generic app, SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from formflow.errors import ValidationFailed
from formflow.testing import Sandbox, csrf_token
from support import MINIMAL_APP_YAML

PERMISSIONS = """\
permissions:
  staff: {create: all, read: all, update: all, delete: none}
"""
GROUP = """\
key: group
label: {zh: 组, en: Group}
title_field: name
fields:
  - {key: name, type: text, label: {zh: 名称, en: Name}, required: true}
  - key: kind
    type: select
    label: {zh: 类别, en: Kind}
    options:
      - {value: big, label: {zh: 大, en: Big}}
      - {value: small, label: {zh: 小, en: Small}}
"""
TASK = """\
key: task
label: {zh: 任务, en: Task}
title_field: name
fields:
  - {key: name, type: text, label: {zh: 名称, en: Name}, required: true}
  - {key: group, type: link, label: {zh: 组, en: Group}, form: group, fills: {kind: kind}}
  - key: kind
    type: select
    label: {zh: 类别, en: Kind}
    options:
      - {value: big, label: {zh: 大, en: Big}}
      - {value: small, label: {zh: 小, en: Small}}
  - key: sponsor
    type: text
    label: {zh: 出资人, en: Sponsor}
    visible_if: "kind == 'big'"
    required_if: "kind == 'big'"
"""


@pytest.fixture
def sandbox(tmp_path: Path, database_url: str) -> Iterator[Sandbox]:
    files = {
        "app.yaml": MINIMAL_APP_YAML,
        "forms/group.yaml": GROUP + PERMISSIONS,
        "forms/task.yaml": TASK + PERMISSIONS,
    }
    with Sandbox(tmp_path, files, database_url=database_url) as made:
        made.add_user("ann", roles=["staff"])
        yield made


def conditions(sandbox: Sandbox, group_id: int) -> dict[str, object]:
    client = sandbox.client("ann")
    token = csrf_token(client, "/demo/task/new")
    answer = client.post(
        "/demo/task/conditions", data={"csrf_token": token, "group": str(group_id)}
    )
    assert answer.status_code == 200
    found: dict[str, object] = answer.json or {}
    return found


def group(sandbox: Sandbox, kind: str) -> int:
    made = sandbox.records.create(sandbox.actor("ann"), "group", {"name": kind, "kind": kind})
    return int(made["id"])


def test_a_field_shows_and_is_needed_for_the_kind_just_filled_in(sandbox: Sandbox) -> None:
    answer = conditions(sandbox, group(sandbox, "big"))
    assert "sponsor" in answer["visible"]  # type: ignore[operator]
    assert "sponsor" in answer["required"]  # type: ignore[operator]
    assert answer["values"] == {"kind": "Big"} or answer["values"] == {"kind": "大"}


def test_another_kind_hides_it(sandbox: Sandbox) -> None:
    answer = conditions(sandbox, group(sandbox, "small"))
    assert "sponsor" not in answer["visible"]  # type: ignore[operator]


def test_the_save_sees_the_filled_kind_alike(sandbox: Sandbox) -> None:
    ann = sandbox.actor("ann")
    with pytest.raises(ValidationFailed) as refused:
        sandbox.records.create(ann, "task", {"name": "x", "group": group(sandbox, "big")})
    assert [p.code for p in refused.value.problems["sponsor"]] == ["required"]
    kept = sandbox.records.create(ann, "task", {"name": "y", "group": group(sandbox, "small")})
    assert kept["kind"] == "small"


def test_an_import_fills_and_refuses_alike(sandbox: Sandbox) -> None:
    ann = sandbox.actor("ann")
    small = group(sandbox, "small")
    rows = [{"name": "a", "group": small}, {"name": "b", "group": small, "kind": "big"}]
    batch = sandbox.records.create_many(ann, "task", rows)
    assert batch.created[0]["kind"] == "small"
    assert [p.code for p in batch.problems[1]["kind"]] == ["filled"]


def test_emptying_the_link_empties_what_it_filled(sandbox: Sandbox) -> None:
    ann = sandbox.actor("ann")
    task = sandbox.records.create(ann, "task", {"name": "y", "group": group(sandbox, "small")})
    changed = sandbox.records.update(
        ann, "task", task["id"], {"group": None}, expected_version=task["version"]
    )
    assert changed["kind"] is None
