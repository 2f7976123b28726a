"""What a record action reports it changed names no field hidden from the person who ran
it: whether a hidden field appears would tell whether its value changed (a ``set`` step,
and ``update_records`` run as them), in the service's answer as in the API's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from formflow.accounts import tokens
from formflow.storage.database import write_transaction
from formflow.testing import Sandbox
from support import MINIMAL_APP_YAML

ITEM = """\
key: item
label: {zh: 物品, en: Item}
title_field: name
fields:
  - {key: name, type: text, label: {zh: 名称, en: Name}, required: true}
  - {key: state, type: text, label: {zh: 状态, en: State}}
  - {key: secret, type: number, label: {zh: 密数, en: Secret}}
actions:
  - key: close
    label: {zh: 关闭, en: Close}
    actions:
      - set: {state: closed, secret: 0}
  - key: reopen
    label: {zh: 重开, en: Reopen}
    actions:
      - action: update_records
        params: {form: item, ids: id, values: {state: open, secret: 1}}
  - key: tag_all
    label: {zh: 标记, en: Tag all}
    actions:
      - action: update_records
        params: {form: tag, linked_by: item, values: {state: seen}}
permissions:
  staff: {create: all, read: all, update: all, delete: none, fields: {secret: hidden}}
  manager: {create: all, read: all, update: all, delete: none}
"""

TAG = """\
key: tag
label: {zh: 标签, en: Tag}
title_field: name
fields:
  - {key: name, type: text, label: {zh: 名称, en: Name}, required: true}
  - {key: item, type: link, label: {zh: 物品, en: Item}, form: item}
  - {key: state, type: text, label: {zh: 状态, en: State}}
permissions:
  staff: {create: all, read: own, update: all, delete: none}
  manager: {create: all, read: all, update: all, delete: none}
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    files = {"app.yaml": MINIMAL_APP_YAML, "forms/item.yaml": ITEM, "forms/tag.yaml": TAG}
    with Sandbox(tmp_path, files) as made:
        made.add_user("ann", roles=["staff"])
        made.add_user("bob", roles=["manager"])
        yield made


def item(sandbox: Sandbox) -> int:
    made = sandbox.records.create(sandbox.actor("bob"), "item", {"name": "x", "secret": 7})
    return int(made["id"])


def run(sandbox: Sandbox, username: str, key: str) -> tuple[Any, ...]:
    actions = sandbox.instance.record_actions(sandbox.app_key)
    return actions.run(sandbox.actor(username), "item", [item(sandbox)], key).changes


def test_a_set_step_reports_only_the_fields_its_runner_sees(sandbox: Sandbox) -> None:
    [change] = run(sandbox, "ann", "close")
    assert change["fields"] == ["state"]


def test_a_set_step_writes_a_hidden_field_whatever_it_held(sandbox: Sandbox) -> None:
    run(sandbox, "ann", "close")  # refused as unknown only when 'secret' held another value
    [stored] = sandbox.records.find(sandbox.actor("bob"), "item").rows
    assert stored["secret"] == 0


def test_a_set_step_reports_every_field_to_one_who_sees_them(sandbox: Sandbox) -> None:
    [change] = run(sandbox, "bob", "close")
    assert change["fields"] == ["secret", "state"]


def test_an_update_step_reports_only_the_fields_its_runner_sees(sandbox: Sandbox) -> None:
    [change] = run(sandbox, "ann", "reopen")
    assert [c["fields"] for c in change["changed"]] == [["state"]]


def test_the_api_answer_names_no_hidden_field(sandbox: Sandbox) -> None:
    record_id = item(sandbox)
    ann = sandbox.actor("ann")
    with write_transaction(sandbox.instance.engine) as connection:
        _id, token = tokens.create_token(connection, ann.user_id, "tests")
    answer = sandbox.flask_app.test_client().post(
        f"/api/v1/demo/item/records/{record_id}/actions/close",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    assert [c["fields"] for c in answer.json["changes"]] == [["state"]]


def test_an_update_step_reports_no_record_its_runner_may_not_read(sandbox: Sandbox) -> None:
    record_id = item(sandbox)
    records, ann, bob = sandbox.records, sandbox.actor("ann"), sandbox.actor("bob")
    mine = records.create(ann, "tag", {"name": "ann's", "item": record_id})
    records.create(bob, "tag", {"name": "bob's", "item": record_id})  # ann may update, not read
    actions = sandbox.instance.record_actions(sandbox.app_key)
    [change] = actions.run(ann, "item", [record_id], "tag_all").changes
    assert [(c["form"], c["id"]) for c in change["changed"]] == [("tag", mine["id"])]
    assert {row["state"] for row in records.find(bob, "tag").rows} == {"seen"}
