"""A form's actions and pool are checked when the app is compiled, each problem at its place."""

from __future__ import annotations

import pytest

from formflow.definitions import load_app
from formflow.errors import DefinitionErrors
from support import AppWriter

FORM = """\
key: item
label: Item
title_field: name
owner_field: owner
fields:
  - {{key: name, type: text, label: Name, required: true}}
  - {{key: owner, type: user, label: Owner, readonly: true}}
  - {{key: state, type: text, label: State}}
{extra}
permissions:
  staff: {{create: all, read: own, update: own}}
"""


def problems(write_app: AppWriter, extra: str) -> list[str]:
    folder = write_app(forms={"item": FORM.format(extra=extra)})
    with pytest.raises(DefinitionErrors) as caught:
        load_app(folder)
    return [f"{e.line}:{e.column}: {e.message}" for e in caught.value.errors]


def test_a_valid_action_and_pool_compile(write_app: AppWriter) -> None:
    extra = """\
pool: {roles: [staff], cooldown_days: 7}
actions:
  - key: claim
    label: Claim
    roles: [staff]
    condition: "owner is none"
    inputs: [{key: note, type: text, label: Note}]
    limits: {held: {max: 5, where: {field: state, op: eq, value: open}}, per_day: 3}
    actions:
      - set: {state: taken}
      - action: update_records
        params: {form: item, ids: id, owner: user.id, map: {state: input.note}}
"""
    form = load_app(write_app(forms={"item": FORM.format(extra=extra)})).form("item")
    assert [action.key for action in form.actions] == ["claim"]
    assert form.pool is not None
    assert form.pool.cooldown_days == 7
    claim = form.actions[0]
    assert (claim.held and claim.held.most, claim.per_day, claim.inputs[0].key) == (5, 3, "note")


def test_unknown_roles_fields_and_names_are_placed(write_app: AppWriter) -> None:
    extra = """\
actions:
  - key: claim
    label: Claim
    roles: [boss]
    condition: "ownr is none"
    actions:
      - set: {stat: taken}
"""
    assert problems(write_app, extra) == [
        "12:13: unknown role 'boss'",
        "13:16: expression uses unknown name 'ownr'; did you mean 'owner'?",
        "15:15: unknown field 'stat' in form 'item'; did you mean 'state'?",
    ]


def test_a_workflow_button_s_key_is_refused(write_app: AppWriter) -> None:
    extra = """\
actions:
  - {key: approve, label: Approve, actions: [{set: {state: ok}}]}
"""
    assert problems(write_app, extra) == [
        "10:11: 'approve' is a workflow button's key; choose another"
    ]


def test_a_limit_s_filter_names_fields_of_the_form(write_app: AppWriter) -> None:
    extra = """\
actions:
  - key: claim
    label: Claim
    limits: {held: {max: 5, where: {field: colour, op: eq, value: red}}}
    actions: [{set: {state: ok}}]
"""
    [found] = problems(write_app, extra)
    assert found.startswith("12:36: filter: unknown field 'colour' in form 'item'")


def test_a_pool_needs_an_owner_field(write_app: AppWriter) -> None:
    form = FORM.replace("owner_field: owner\n", "").format(extra="pool: {roles: [staff]}")
    folder = write_app(forms={"item": form})
    with pytest.raises(DefinitionErrors, match="a pool holds records with no owner"):
        load_app(folder)


def test_a_created_record_s_name_may_not_hide_a_field(write_app: AppWriter) -> None:
    extra = """\
actions:
  - key: copy
    label: Copy
    actions:
      - action: create_record
        params: {form: item, map: {name: name}, as: state}
"""
    [found] = problems(write_app, extra)
    assert found.endswith("'state' is already a name expressions read; choose another")


HIDING_STATE = "  staff: {{create: all, read: own, update: own, fields: {{state: hidden}}}}\n"


def hiding_problems(write_app: AppWriter, extra: str) -> list[str]:
    text = FORM.replace("  staff: {{create: all, read: own, update: own}}\n", HIDING_STATE)
    folder = write_app(forms={"item": text.format(extra=extra)})
    with pytest.raises(DefinitionErrors) as caught:
        load_app(folder)
    return [f"{e.line}:{e.column}: {e.message}" for e in caught.value.errors]


def test_a_condition_may_not_read_a_field_hidden_from_those_who_run_the_action(
    write_app: AppWriter,
) -> None:
    extra = """\
actions:
  - key: close
    label: Close
    condition: "state == 'open'"
    actions:
      - set: {name: closed}
"""
    assert hiding_problems(write_app, extra) == [
        "12:16: action 'close' reads 'state', which is hidden from 'staff', who may run it:"
        " whether it is offered would tell it"
    ]
