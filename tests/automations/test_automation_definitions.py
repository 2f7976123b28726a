"""Automation files compile to frozen rules, or fail at the exact FILE:LINE:COL."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
import yaml
from rules_support import StampPlugin, rules_folder

from formflow.automations.model import TriggerType
from formflow.definitions import load_app
from formflow.errors import DefinitionErrors
from formflow.plugins import load_plugins
from support import definition_errors

HEAD = "key: rule\nlabel: Rule\nform: opportunity\n"
"""The trigger starts on line 4."""
STAMP = "actions:\n  - action: stamp\n    params: {mark: x}\n"


def errors_of(tmp_path: Path, text: str) -> list[str]:
    """The errors of the rules app with one rule, the test plugin's action loaded."""
    folder = rules_folder(tmp_path, {"rule": text})
    plugins = load_plugins(entry_points=False, extra=[StampPlugin()])
    with pytest.raises(DefinitionErrors) as caught:
        load_app(folder, toolkit=plugins.toolkit)
    return [str(error).removeprefix(f"{folder}/automations/") for error in caught.value]


def test_every_trigger_compiles_to_its_frozen_rule(tmp_path: Path) -> None:
    changed = HEAD.replace("rule", "changed", 1) + (
        "trigger: {type: field_changed, fields: [stage], from: [open], to: won}\n"
        'condition: "amount > old.amount"\n'
        "actions:\n  - set: {reminded: true}\n"
    )
    dated = HEAD.replace("rule", "dated", 1) + (
        'trigger: {type: date, field: expected_close, days_before: 3, at: "09:30"}\n'
        "actions:\n  - set: {reminded: true}\n"
    )
    app = load_app(rules_folder(tmp_path, {"changed": changed, "dated": dated}))
    rule = app.automations["changed"]
    assert rule.trigger.kind is TriggerType.FIELD_CHANGED
    assert rule.trigger.fields == ("stage",)
    assert (rule.trigger.from_values, rule.trigger.to_values) == (("open",), ("won",))
    assert rule.condition is not None
    assert rule.condition.names == {"amount", "old"}
    trigger = app.automations["dated"].trigger
    assert (trigger.kind, trigger.offset_days, trigger.at) == (TriggerType.DATE, -3, time(9, 30))
    assert app.summary().endswith("2 automations")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "key: rule\nlabel: Rule\nform: oportunity\ntrigger: {type: created}\n" + STAMP,
            "rule.yaml:3:7: unknown form 'oportunity'; did you mean 'opportunity'?",
        ),
        (
            HEAD + "trigger: {type: field_changed, fields: [stgae]}\n" + STAMP,
            "rule.yaml:4:41: unknown field 'stgae' in form 'opportunity'; did you mean 'stage'?",
        ),
        (
            HEAD + "trigger: {type: field_changed, fields: [stage], to: wonn}\n" + STAMP,
            "rule.yaml:4:53: unknown option 'wonn'; did you mean 'won'? (open, won, lost)",
        ),
        (
            HEAD + "trigger: {type: field_changed, fields: [stage, amount], to: won}\n" + STAMP,
            "rule.yaml:4:61: 'to' needs exactly one field in fields",
        ),
        (
            HEAD + "trigger: {type: approval_ended, workflow: transfer_approval}\n" + STAMP,
            "rule.yaml:4:43: workflow 'transfer_approval' runs on form 'transfer', not 'opportunity'",
        ),
        (
            "key: rule\nlabel: Rule\nform: transfer\n"
            "trigger: {type: workflow_entered, workflow: transfer_approval, node: reveiw}\n"
            + STAMP,
            "rule.yaml:4:70: unknown node 'reveiw'; did you mean 'review'?",
        ),
        (
            "key: rule\nlabel: Rule\nform: transfer\n"
            "trigger: {type: approval_ended, workflow: transfer_approval, outcome: done}\n" + STAMP,
            "rule.yaml:4:71: unknown outcome 'done' (the end nodes give approved, rejected)",
        ),
        (
            HEAD + 'trigger: {type: schedule, cron: "0 25 * * *"}\n' + STAMP,
            "rule.yaml:4:33: schedule '0 25 * * *' cannot be read",
        ),
        (
            HEAD + 'trigger: {type: date, field: name, days_after: 1, at: "09:00"}\n' + STAMP,
            "rule.yaml:4:30: 'name' is a text field; give a date or datetime field",
        ),
        (
            HEAD
            + 'trigger: {type: date, field: expected_close, days_after: 1, days_before: 2, at: "09:00"}\n'
            + STAMP,
            "rule.yaml:4:10: 'trigger': give days_before or days_after, not both",
        ),
        (
            HEAD + 'trigger: {type: created}\ncondition: "amout > 3"\n' + STAMP,
            "rule.yaml:5:12: expression uses unknown name 'amout'; did you mean 'amount'?",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: stomp\n",
            "rule.yaml:6:13: unknown action 'stomp'",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - set: {stagee: won}\n",
            "rule.yaml:6:11: unknown field 'stagee' in form 'opportunity'; did you mean 'stage'?",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: create_record\n"
            "    params: {form: contract, map: {titel: name}}\n",
            "rule.yaml:7:36: unknown field 'titel' in form 'contract'; did you mean 'title'?",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: create_record\n"
            "    params: {form: contract, map: {title: nmae}}\n",
            "rule.yaml:7:43: expression uses unknown name 'nmae'; did you mean 'name'?",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: create_record\n"
            "    params: {form: contract, map: {title: target.title}}\n",
            "rule.yaml:7:43: expression uses unknown name 'target'",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: create_record\n"
            "    params: {from: contract}\n",
            "rule.yaml:7:13: parameter: 'form' is a required property",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: update_records\n"
            "    params: {link: customer, cascade: [{form: contract, link: customer}]}\n",
            "rule.yaml:7:39: cascade moves records with their owner; give owner",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: webhook\n"
            "    params: {url: 'http://x', body: '{\"a\": {{ nam }}}'}\n",
            "rule.yaml:7:37: template uses unknown name 'nam'; did you mean 'name'?",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - set: {stage: wonn}\n",
            "rule.yaml:6:18: 'stage' cannot be set to 'wonn': 'wonn' is not one of the options",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - set: {expected_close: soon}\n",
            "rule.yaml:6:27: 'expected_close' cannot be set to 'soon': must be a date",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: create_record\n"
            "    params: {form: contract, values: {amount: lots}}\n",
            "rule.yaml:7:47: 'amount' cannot be set to 'lots': must be a number",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: notify\n"
            "    params: {user_field: owner, title: '{{ nmae }} won'}\n",
            "rule.yaml:7:40: template uses unknown name 'nmae'; did you mean 'name'?",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: notify\n"
            "    params: {user_field: owner, title: Won, body: '{{ name '}\n",
            "rule.yaml:7:51: template does not parse",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: notify\n"
            "    params: {user_field: owner, title: Won, body: '{{ "
            + "(" * 3000
            + "1"
            + ")" * 3000
            + " }}'}\n",
            "rule.yaml:7:51: template nests too deeply",
        ),
    ],
)
def test_a_bad_rule_is_reported_at_its_place(tmp_path: Path, text: str, expected: str) -> None:
    found = errors_of(tmp_path, text)
    assert any(error.startswith(expected) for error in found), found


def test_a_literal_that_fits_its_field_is_no_problem(tmp_path: Path) -> None:
    text = HEAD + "trigger: {type: created}\nactions:\n  - set: {stage: won, reminded: true}\n"
    assert "rule" in load_app(rules_folder(tmp_path, {"rule": text})).automations


def test_a_plugin_action_is_known_once_its_plugin_is_loaded(tmp_path: Path) -> None:
    folder = rules_folder(tmp_path, {"rule": HEAD + "trigger: {type: created}\n" + STAMP})
    assert "unknown action 'stamp'" in " ".join(definition_errors(folder))
    plugins = load_plugins(entry_points=False, extra=[StampPlugin()])
    assert "rule" in load_app(folder, toolkit=plugins.toolkit).automations


def test_a_plugin_actions_parameters_are_checked_against_its_schema(tmp_path: Path) -> None:
    text = HEAD + "trigger: {type: created}\nactions:\n  - action: stamp\n    params: {mrak: x}\n"
    folder = rules_folder(tmp_path, {"rule": text})
    plugins = load_plugins(entry_points=False, extra=[StampPlugin()])
    with pytest.raises(DefinitionErrors) as caught:
        load_app(folder, toolkit=plugins.toolkit)
    assert "parameter: 'mark' is a required property" in str(caught.value)


def test_a_rule_survives_a_round_trip_through_yaml(tmp_path: Path) -> None:
    text = (
        HEAD
        + "trigger: {type: field_changed, fields: [stage], to: [won, lost]}\n"
        + 'condition: "amount > 10"\n'
        + "actions:\n  - set: {reminded: true}\n"
        + "  - action: create_record\n    params: {form: contract, map: {title: name}, values: {amount: 1}}\n"
    )
    plugins = load_plugins(entry_points=False, extra=[StampPlugin()])
    first = load_app(rules_folder(tmp_path / "a", {"rule": text}), toolkit=plugins.toolkit)
    again = yaml.safe_dump(yaml.safe_load(text), allow_unicode=True, sort_keys=False)
    second = load_app(rules_folder(tmp_path / "b", {"rule": again}), toolkit=plugins.toolkit)
    assert first.automations == second.automations
