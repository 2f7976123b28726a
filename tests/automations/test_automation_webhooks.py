"""A webhook is queued in the run's unit, sent after the commit by a job, signed, retried."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import ip_network
from typing import Any

import pytest
from flask import Flask, redirect, request
from huey import Huey
from rules_support import RULES_DIR, MakeRules, Rules
from sqlalchemy import select

from formflow.automations.destinations import DestinationRefused, allowed, opener
from formflow.automations.jobs import attach
from formflow.automations.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER
from formflow.jobs import Jobs
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import webhook_calls
from support import serving

SECRET = "FORMFLOW_TEST_WEBHOOK_KEY"


@dataclass
class Receiver:
    """What the test's HTTP server was sent; it answers 503 while ``failures`` lasts."""

    url: str
    failures: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    app = Flask("receiver")
    state: dict[str, Receiver] = {}

    @app.post("/moved")
    def moved() -> Any:
        return redirect("/hook", 307)

    @app.post("/hook")
    def hook() -> tuple[str, int]:
        found = state["receiver"]
        found.received.append((dict(request.headers), request.get_data()))
        if found.failures > 0:
            found.failures -= 1
            return "busy", 503
        return "ok", 200

    with serving(app) as base_url:
        state["receiver"] = Receiver(f"{base_url}/hook")
        yield state["receiver"]


def won_hook(url: str) -> str:
    return f"""\
key: tell_erp
label: Tell the ERP about won deals
form: opportunity
trigger: {{type: field_changed, fields: [stage], to: won}}
actions:
  - action: webhook
    params:
      url: {url}
      secret_env: {SECRET}
      body: |
        {{"deal": {{{{ name | tojson }}}}, "amount": {{{{ amount | tojson }}}}, "id": {{{{ id }}}}}}
"""


def drain(huey: Huey) -> int:
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


def on_jobs(rules: Rules, huey: Huey) -> Jobs:
    jobs = Jobs(huey, rules.relay)
    attach(jobs, rules.automations, retry_delay=0)
    return jobs


def calls(rules: Rules) -> list[Any]:
    with read_transaction(rules.engine) as connection:
        return list(connection.execute(select(webhook_calls)).all())


def test_a_webhook_posts_the_rendered_body_signed_after_the_commit(
    make_rules: MakeRules, receiver: Receiver, queue: Huey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET, "s3cret")
    rules = make_rules(tell_erp=won_hook(receiver.url))
    on_jobs(rules, queue)
    deal = rules.create("opportunity", {"name": "Big 单", "amount": "99.50"})
    rules.update("opportunity", deal["id"], {"stage": "won"})
    assert receiver.received == []  # the commits only rang
    drain(queue)
    [(headers, body)] = receiver.received
    assert json.loads(body) == {"deal": "Big 单", "amount": "99.50", "id": deal["id"]}
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    [call] = calls(rules)
    assert headers[DELIVERY_HEADER] == str(call.id)
    assert (call.status, call.attempts) == ("sent", 1)


def test_a_failing_webhook_is_retried_until_it_is_answered(
    make_rules: MakeRules, receiver: Receiver, queue: Huey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET, "s3cret")
    receiver.failures = 2
    rules = make_rules(tell_erp=won_hook(receiver.url))
    on_jobs(rules, queue)
    deal = rules.create("opportunity", {"name": "Deal"})
    rules.update("opportunity", deal["id"], {"stage": "won"})
    drain(queue)
    assert len(receiver.received) == 3
    assert len({body for _headers, body in receiver.received}) == 1
    [call] = calls(rules)
    assert (call.status, call.attempts, call.last_error) == ("sent", 3, "HTTP 503")


def test_a_webhook_given_up_is_marked_failed(
    make_rules: MakeRules, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from huey import SqliteHuey

    monkeypatch.setenv(SECRET, "s3cret")
    receiver.failures = 100
    rules = make_rules(tell_erp=won_hook(receiver.url))
    huey = SqliteHuey("formflow", filename=str(tmp_path / "given-up.db"), results=False)
    on_jobs(rules, huey)
    deal = rules.create("opportunity", {"name": "Deal"})
    rules.update("opportunity", deal["id"], {"stage": "won"})
    drain(huey)
    [call] = calls(rules)
    assert (call.status, call.attempts) == ("failed", 8)
    assert len(receiver.received) == 8


def test_a_workflow_runs_the_webhook_action_and_the_clock_sends_it(
    make_rules: MakeRules, receiver: Receiver, tmp_path: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from formflow.records.access import Actor

    flow = (RULES_DIR / "workflows" / "transfer.yaml").read_text(encoding="utf-8")
    flow = flow.replace(
        "state: approved}",
        "state: approved, actions: [{action: webhook, params: "
        f"{{url: '{receiver.url}', body: '{{\"transfer\": {{{{ id }}}}}}'}}}}]}}",
    )
    other = "key: other\nlabel: Other\nform: customer\ntrigger: {type: created}\nactions:\n  - set: {note: x}\n"
    rules = make_rules(files={"workflows/transfer.yaml": flow}, other=other)
    ann = Actor(rules.users["ann"], frozenset({"staff"}))
    transfer = rules.create("transfer", {"reason": "r", "to_owner": rules.users["bob"]}, ann)
    rules.flows.submit(ann, "transfer_approval", transfer["id"])
    [task] = rules.flows.open_tasks_of(rules.users["max"])
    rules.flows.decide(Actor(rules.users["max"], frozenset({"manager"})), task.id, "approve")
    [call] = calls(rules)
    assert (call.status, call.automation_key) == ("pending", "workflow:transfer_approval")
    rules.automations.tick(datetime.now(UTC) + timedelta(minutes=2))
    [(_headers, body)] = receiver.received
    assert json.loads(body) == {"transfer": transfer["id"]}


def test_a_webhook_to_a_private_address_is_refused_at_once(
    make_rules: MakeRules, receiver: Receiver, queue: Huey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET, "s3cret")
    rules = make_rules(tell_erp=won_hook(receiver.url))
    rules.automations.webhook_networks = ()
    on_jobs(rules, queue)
    deal = rules.create("opportunity", {"name": "Deal"})
    rules.update("opportunity", deal["id"], {"stage": "won"})
    drain(queue)
    assert receiver.received == []
    [call] = calls(rules)
    assert (call.status, call.attempts) == ("failed", 1)
    assert call.last_error.startswith("refused: 127.0.0.1 is at 127.0.0.1")


def test_a_webhook_answered_with_a_redirect_is_not_followed(
    make_rules: MakeRules, receiver: Receiver, queue: Huey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET, "s3cret")
    rules = make_rules(tell_erp=won_hook(receiver.url.replace("/hook", "/moved")))
    on_jobs(rules, queue)
    deal = rules.create("opportunity", {"name": "Deal"})
    rules.update("opportunity", deal["id"], {"stage": "won"})
    drain(queue)
    assert receiver.received == []
    assert calls(rules)[0].last_error == "HTTP 307"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_webhook_opener_checks_the_address_of_either_scheme(scheme: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        with pytest.raises(urllib.error.URLError) as refused:
            opener().open(f"{scheme}://127.0.0.1:{port}/hook", timeout=5)
    assert isinstance(refused.value.reason, DestinationRefused)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_a_private_loopback_or_reserved_address_is_not_a_destination(address: str) -> None:
    assert not allowed(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1"])
def test_an_address_on_the_internet_is_a_destination(address: str) -> None:
    assert allowed(address)


def test_a_private_network_the_operator_lists_is_a_destination() -> None:
    assert allowed("10.1.2.3", [ip_network("10.0.0.0/8")])
    assert not allowed("10.1.2.3", [ip_network("192.168.0.0/16")])


def test_a_webhook_body_that_builds_a_huge_text_is_refused_and_queues_no_call(
    make_rules: MakeRules, receiver: Receiver, queue: Huey
) -> None:
    huge = won_hook(receiver.url).replace(
        '"id": {{ id }}}', '"id": "{% for i in name * 10000 %}{{ name }}{% endfor %}"}'
    )
    rules = make_rules(tell_erp=huge)
    on_jobs(rules, queue)
    deal = rules.create("opportunity", {"name": "Big deal"})
    rules.update("opportunity", deal["id"], {"stage": "won"})
    drain(queue)
    [run] = rules.runs(automation_key="tell_erp")
    assert run.status == "error"
    assert "the webhook body failed: it would build a value of more than 100,000" in run.error
    assert calls(rules) == []
