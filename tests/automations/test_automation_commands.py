"""`formflow validate` checks automations; `formflow automations log` lists their runs; an
instance runs its apps' automations on its own commits."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from rules_support import rules_folder

from formflow.automations.engine import SUBSCRIBER as AUTOMATIONS
from formflow.cli import main
from formflow.config import load_settings
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor
from support import AppWriter

WELCOME = """\
key: welcome
label: Welcome new customers
form: customer
trigger: {type: created}
actions:
  - set: {note: welcome}
"""


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env = {
        "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
        "FORMFLOW_DATABASE_URL": "",
        "FORMFLOW_APPS": "",
    }
    app = rules_folder(tmp_path, {"welcome": WELCOME})
    result = CliRunner().invoke(main, ["init", str(app), "--password", "pass-word-1"], env=env)
    assert result.exit_code == 0, result.output
    return env


RENEWAL = """\
key: renewal
label: Renewals due
form: customer
trigger: {type: date, field: renewal_on, days_before: 3, at: "09:00"}
actions:
  - set: {note: renew}
"""


def test_the_preview_command_lists_what_a_date_rule_would_run_on(tmp_path: Path) -> None:
    env = {
        "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
        "FORMFLOW_DATABASE_URL": "",
        "FORMFLOW_APPS": "",
    }
    app = rules_folder(tmp_path, {"renewal": RENEWAL})
    made = CliRunner().invoke(main, ["init", str(app), "--password", "pass-word-1"], env=env)
    assert made.exit_code == 0, made.output
    instance = Instance(load_settings(env))
    try:
        records = instance.records("rules")
        due = records.create(
            Actor.system(), "customer", {"name": "Due", "renewal_on": "2026-03-12"}
        )
        records.create(Actor.system(), "customer", {"name": "Later", "renewal_on": "2026-03-20"})
    finally:
        instance.close()
    result = CliRunner().invoke(
        main, ["automations", "preview", "rules", "renewal", "--day", "2026-03-09"], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"customer/{due['id']}  Due\n"


def test_validate_reports_a_bad_automation_at_its_place(tmp_path: Path) -> None:
    app = rules_folder(tmp_path, {"welcome": WELCOME.replace("note: welcome", "nots: welcome")})
    result = CliRunner().invoke(main, ["validate", str(app)])
    assert result.exit_code == 1
    assert result.stdout == (
        f"{app}/automations/welcome.yaml:6:11: unknown field 'nots' in form 'customer';"
        " did you mean 'note'?\n"
    )


def test_validate_counts_the_automations_of_a_valid_app(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(rules_folder(tmp_path, {"w": WELCOME}))])
    assert result.exit_code == 0, result.output
    assert ", 1 automations (" in result.stdout


def test_an_instance_runs_its_automations_and_the_log_command_lists_the_runs(
    environment: dict[str, str],
) -> None:
    instance = Instance(load_settings(environment))
    try:
        created = instance.records("rules").create(Actor.system(), "customer", {"name": "Acme"})
        stored = instance.records("rules").get(Actor.system(), "customer", created["id"])
    finally:
        instance.close()
    assert stored["note"] == "welcome"
    result = CliRunner().invoke(
        main,
        ["automations", "log", "rules", "--record", f"customer/{created['id']}"],
        env=environment,
    )
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert "welcome" in line
    assert f"customer/{created['id']}" in line
    assert "done" in line
    assert f"customer/{created['id']}:note" in line


def test_the_log_command_tells_the_time_on_the_instance_s_clock(
    environment: dict[str, str],
) -> None:
    instance = Instance(load_settings(environment))
    try:
        created = instance.records("rules").create(Actor.system(), "customer", {"name": "Acme"})
        zone = instance.settings.timezone
    finally:
        instance.close()
    result = CliRunner().invoke(
        main,
        ["automations", "log", "rules", "--record", f"customer/{created['id']}"],
        env=environment,
    )
    _run, day, time, *_rest = result.stdout.split()
    shown = datetime.strptime(f"{day} {time}", "%Y-%m-%d %H:%M:%S")
    now = datetime.now(zone).replace(tzinfo=None)  # Asia/Shanghai: 8 hours from UTC
    assert abs((now - shown).total_seconds()) < 120, (shown, now)


def test_the_log_command_refuses_a_malformed_record(environment: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main, ["automations", "log", "rules", "--record", "customer"], env=environment
    )
    assert result.exit_code == 2
    assert "give FORM/ID" in result.output


def test_an_app_without_automations_owes_them_no_deliveries(
    tmp_path: Path, write_app: AppWriter
) -> None:
    env = {
        "FORMFLOW_INSTANCE": str(tmp_path / "plain"),
        "FORMFLOW_DATABASE_URL": "",
        "FORMFLOW_APPS": "",
    }
    result = CliRunner().invoke(
        main, ["init", str(write_app()), "--password", "pass-word-1"], env=env
    )
    assert result.exit_code == 0, result.output
    instance = Instance(load_settings(env))
    try:
        outbox = instance.records("demo").outbox
        assert not any(AUTOMATIONS in outbox.owed(form) for form in outbox_forms(instance))
        instance.relay.dispatch = lambda: None  # nothing delivered: what is owed stays
        instance.records("demo").create(Actor.system(), "item", {"name": "One"})
        assert instance.relay.owed(AUTOMATIONS) == 0
    finally:
        instance.close()


def test_only_the_events_of_forms_with_rules_are_owed_to_the_automations(
    environment: dict[str, str],
) -> None:
    instance = Instance(load_settings(environment))
    rung: list[str] = []
    instance.relay.dispatch = lambda: rung.append("rung")  # nothing delivered: owed stays
    try:
        records = instance.records("rules")
        records.create(Actor.system(), "contract", {"title": "No rule watches contracts"})
        assert (instance.relay.owed(AUTOMATIONS), rung) == (0, [])
        records.create(Actor.system(), "customer", {"name": "Welcomed"})
        assert (instance.relay.owed(AUTOMATIONS), rung) == (1, ["rung"])
    finally:
        instance.close()


def outbox_forms(instance: Instance) -> list[str]:
    return list(instance.records("demo").app.forms)
