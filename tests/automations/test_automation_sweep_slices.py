"""A timed rule's sweep runs the records it finds a slice at a time: one unit of work and
one run-log statement a slice, yet each record's run is done, logged and kept apart as if
it ran alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from rules_support import RULES_DIR, ZONE, MakeRules, Rules
from sqlalchemy import event, select

from formflow.events import Event
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import events, notifications

REMIND = """\
key: remind
label: Remind three days before the expected close
form: opportunity
trigger: {type: date, field: expected_close, days_before: 3, at: "09:00"}
condition: "stage == 'open'"
actions:
  - set: {reminded: true}
"""

REMIND_AND_SHARE = """\
key: remind
label: Remind, then note each one's share of a hundred
form: opportunity
trigger: {type: date, field: expected_close, days_before: 3, at: "09:00"}
actions:
  - set: {reminded: true}
  - action: create_record
    params:
      form: customer
      map: {name: "'share ' ~ (100 / amount)"}
"""

NINE = datetime(2026, 3, 9, 9, 0, tzinfo=ZONE).astimezone(UTC)  # 3 days before 03-12


def _due(rules: Rules, count: int, **values: Any) -> list[int]:
    made = [
        rules.create("opportunity", {"name": f"Deal {n}", "expected_close": "2026-03-12", **values})
        for n in range(count)
    ]
    return [int(record["id"]) for record in made]


@contextmanager
def _statements(rules: Rules) -> Iterator[list[str]]:
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        sent.append(statement)

    event.listen(rules.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(rules.engine, "before_cursor_execute", note)


def test_a_sweep_commits_once_a_slice_and_logs_each_slice_in_one_statement(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(remind=REMIND)
    ids = _due(rules, 5)
    rules.automations.page = 2  # three slices: 2, 2 and 1 records
    with _statements(rules) as sent:
        assert rules.automations.sweep("rules", "remind", NINE) == 5
    log_inserts = [s for s in sent if s.startswith("INSERT INTO ff_automation_runs")]
    assert len(log_inserts) == 3
    assert all(rules.get("opportunity", i)["reminded"] is True for i in ids)
    runs = rules.runs(automation_key="remind")
    assert sorted(run.record_id for run in runs) == sorted(ids)  # a log row for each record
    assert {run.status for run in runs} == {"done"}


def test_a_slice_checks_which_records_are_done_in_one_query(make_rules: MakeRules) -> None:
    rules = make_rules(remind=REMIND)
    _due(rules, 4)
    rules.automations.page = 10
    rules.automations.sweep("rules", "remind", NINE)
    with _statements(rules) as sent:
        assert rules.automations.sweep("rules", "remind", NINE) == 0  # all done that day
    assert len([s for s in sent if "FROM ff_automation_runs" in s]) == 1
    assert not [s for s in sent if s.startswith(("INSERT", "UPDATE"))]


def test_a_run_that_fails_leaves_the_rest_of_its_slice_done(make_rules: MakeRules) -> None:
    rules = make_rules(remind=REMIND_AND_SHARE)
    first, second = _due(rules, 2, amount="4")
    failing = _due(rules, 1, amount="0")[0]  # 100 / 0: its second action fails
    last = _due(rules, 1, amount="5")[0]
    assert rules.automations.sweep("rules", "remind", NINE) == 3
    for record_id in (first, second, last):
        assert rules.get("opportunity", record_id)["reminded"] is True
    assert rules.get("opportunity", failing)["reminded"] is not True  # its set undone too
    by_record = {run.record_id: run for run in rules.runs(automation_key="remind")}
    assert by_record[failing].status == "error"
    assert "failed" in by_record[failing].error
    assert {by_record[i].status for i in (first, second, last)} == {"done"}


def test_a_failed_run_is_tried_again_by_the_next_sweep_and_the_done_ones_are_not(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(remind=REMIND_AND_SHARE)
    done = _due(rules, 1, amount="4")[0]
    failing = _due(rules, 1, amount="0")[0]
    rules.automations.sweep("rules", "remind", NINE)
    rules.update("opportunity", failing, {"amount": "2"})
    assert rules.automations.sweep("rules", "remind", NINE) == 1
    assert rules.get("opportunity", failing)["reminded"] is True
    statuses = sorted((run.record_id, run.status) for run in rules.runs(automation_key="remind"))
    assert statuses == sorted([(done, "done"), (failing, "error"), (failing, "done")])


def test_each_run_of_a_slice_leaves_its_own_event_marked_with_the_rule(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(remind=REMIND)
    ids = _due(rules, 3)
    rules.automations.sweep("rules", "remind", NINE)
    with read_transaction(rules.engine) as connection:
        rows = connection.execute(
            select(events).where(events.c.form_key == "opportunity", events.c.kind == "updated")
        )
        updates = [Event.from_row(row) for row in rows]
    assert sorted(e.record_id for e in updates) == sorted(ids)
    assert {(e.cause["automation"], e.depth) for e in updates} == {("remind", 1)}


REMIND_AND_STAMP = """\
key: remind
label: Remind, then stamp
form: opportunity
trigger: {type: date, field: expected_close, days_before: 3, at: "09:00"}
actions:
  - set: {reminded: true}
  - action: stamp
    params: {mark: reminded}
"""


class _BrokenFor(list[tuple[str, int | None, str]]):
    """The stamp plugin's notes, failing (as a database that drops the connection would,
    not as the rule's fault) for one record."""

    def __init__(self, record_id: int) -> None:
        super().__init__()
        self.record_id = record_id

    def append(self, item: tuple[str, int | None, str]) -> None:
        if item[1] == self.record_id:
            raise RuntimeError("the connection dropped")
        super().append(item)


def test_a_slice_that_fails_as_a_whole_keeps_nothing_and_runs_record_by_record(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(remind=REMIND_AND_STAMP)
    first, broken, last = _due(rules, 3)
    rules.plugin.stamped = _BrokenFor(broken)
    with pytest.raises(RuntimeError):
        rules.automations.sweep("rules", "remind", NINE)
    # the slice's unit kept nothing; run one by one, the first is done, the broken one
    # logged as failed and not done, the last waits for the next sweep
    assert rules.get("opportunity", first)["reminded"] is True
    assert rules.get("opportunity", broken)["reminded"] is not True
    assert rules.get("opportunity", last)["reminded"] is not True
    rules.plugin.stamped = []
    assert rules.automations.sweep("rules", "remind", NINE) == 2
    assert rules.plugin.stamped == [
        ("opportunity", broken, "reminded"),
        ("opportunity", last, "reminded"),
    ]
    done = [run.record_id for run in rules.runs(automation_key="remind") if run.status == "done"]
    assert sorted(done) == sorted([first, broken, last])  # each once


FLAG_AND_TELL = """\
key: remind
label: Flag three days before the expected close and tell the owner
form: opportunity
trigger: {type: date, field: expected_close, days_before: 3, at: "09:00"}
condition: "stage == 'open'"
actions:
  - set: {reminded: true}
  - action: notify
    params:
      user_field: owner
      title: "{{ name }} closes in three days"
      body: "{{ name }}, version {{ version }}, reminded {{ reminded }}"
"""

TENTH = datetime(2026, 3, 10, 9, 0, tzinfo=ZONE).astimezone(UTC)  # 3 days before 03-13


def _told(rules: Rules) -> list[tuple[int, str, str]]:
    with read_transaction(rules.engine) as connection:
        rows = connection.execute(
            select(notifications.c.user_id, notifications.c.title, notifications.c.body)
        )
        return sorted((int(row.user_id), row.title, row.body) for row in rows)


def test_a_flag_and_tell_slice_sends_as_many_statements_for_many_records_as_for_few(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(remind=FLAG_AND_TELL)
    owner = {"owner": rules.users["ann"]}
    _due(rules, 2, **owner)
    _due(rules, 9, **{**owner, "expected_close": "2026-03-13"})
    with _statements(rules) as for_few:
        assert rules.automations.sweep("rules", "remind", NINE) == 2
    with _statements(rules) as for_many:
        assert rules.automations.sweep("rules", "remind", TENTH) == 9
    assert len(for_many) == len(for_few)
    assert len(_told(rules)) == 11


def test_a_batched_slice_leaves_what_record_by_record_runs_leave(
    make_rules: MakeRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = make_rules(remind=FLAG_AND_TELL)
    owner = {"owner": rules.users["bob"]}
    batched = _due(rules, 3, **owner)
    single = _due(rules, 3, **{**owner, "expected_close": "2026-03-13"})
    rules.automations.sweep("rules", "remind", NINE)
    monkeypatch.setattr("formflow.automations.batched.plan", lambda *_args: None)
    rules.automations.sweep("rules", "remind", TENTH)

    def left(ids: list[int]) -> list[Any]:
        with read_transaction(rules.engine) as connection:
            updates = connection.execute(
                select(events.c.record_id, events.c.data).where(events.c.kind == "updated")
            ).all()
        by_record = {run.record_id: run for run in rules.runs(automation_key="remind")}
        return [
            (
                {
                    k: v
                    for k, v in rules.get("opportunity", i).items()
                    if k in ("reminded", "version")
                },
                [(d["changes"], d["cause"]) for r, d in updates if r == i],
                by_record[i].status,
                [{k: v for k, v in c.items() if k != "id"} for c in by_record[i].changes],
            )
            for i in ids
        ]

    assert left(batched) == left(single)
    told = _told(rules)
    bob = rules.users["bob"]
    each = [
        (bob, f"Deal {n} closes in three days", f"Deal {n}, version 2, reminded True")
        for n in range(3)
    ]
    assert told == sorted(each * 2)  # each record told the same, batched or not


def test_a_record_whose_flag_is_refused_is_logged_alone_and_the_rest_of_the_batch_done(
    make_rules: MakeRules,
) -> None:
    rule = "rules:\n  - {key: flag_needs_amount, expression: 'not reminded or amount is not none', message: x}\n"
    form = (RULES_DIR / "forms" / "opportunity.yaml").read_text("utf-8") + rule
    rules = make_rules(remind=FLAG_AND_TELL, files={"forms/opportunity.yaml": form})
    first, last = _due(rules, 2, owner=rules.users["ann"], amount="5")
    refused = _due(rules, 1, owner=rules.users["ann"])[0]  # no amount: the rule refuses
    assert rules.automations.sweep("rules", "remind", NINE) == 2
    assert rules.get("opportunity", refused)["reminded"] is not True
    by_record = {run.record_id: run for run in rules.runs(automation_key="remind")}
    assert by_record[refused].status == "error"
    assert {by_record[first].status, by_record[last].status} == {"done"}
    assert len(_told(rules)) == 2  # the refused one is not told


def test_a_notification_that_fails_to_render_leaves_its_record_unflagged_and_the_rest_done(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(
        remind=FLAG_AND_TELL.replace("version {{ version }}", "{{ 100 / (amount | float) }}")
    )
    first, last = _due(rules, 2, owner=rules.users["ann"], amount="4")
    failing = _due(rules, 1, owner=rules.users["ann"], amount="0")[0]  # 100 / 0
    assert rules.automations.sweep("rules", "remind", NINE) == 2
    assert rules.get("opportunity", failing)["reminded"] is not True  # rolled back with it
    by_record = {run.record_id: run for run in rules.runs(automation_key="remind")}
    assert by_record[failing].status == "error"
    assert {by_record[first].status, by_record[last].status} == {"done"}
    assert [title for _user, title, _body in _told(rules)] == [
        "Deal 0 closes in three days",
        "Deal 1 closes in three days",
    ]


LET_GO_AND_TELL = """\
key: remind
label: Let the deal go three days before the expected close, and tell its owner
form: opportunity
trigger: {type: date, field: expected_close, days_before: 3, at: "09:00"}
condition: "stage == 'open'"
actions:
  - action: update_records
    params:
      form: opportunity
      ids: id
      owner: "none"
      values: {reminded: true}
      map: {amount: "(target.amount or 0) + 1"}
  - action: notify
    params:
      user_field: owner
      title: "{{ name }} closes in three days"
      body: "{{ name }}, version {{ version }}, reminded {{ reminded }}"
"""


def test_an_update_of_the_record_found_leaves_what_record_by_record_runs_leave(
    make_rules: MakeRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = make_rules(remind=LET_GO_AND_TELL)
    owner = {"owner": rules.users["ann"], "amount": "4"}
    batched = _due(rules, 3, **owner)
    single = _due(rules, 3, **{**owner, "expected_close": "2026-03-13"})
    rules.automations.sweep("rules", "remind", NINE)
    monkeypatch.setattr("formflow.automations.batched.plan", lambda *_args: None)
    rules.automations.sweep("rules", "remind", TENTH)

    def left(ids: list[int]) -> list[Any]:
        with read_transaction(rules.engine) as connection:
            updates = connection.execute(
                select(events.c.record_id, events.c.data).where(events.c.kind == "updated")
            ).all()
        by_record = {run.record_id: run for run in rules.runs(automation_key="remind")}
        kept = ("owner", "reminded", "amount", "version")
        return [
            (
                {k: v for k, v in rules.get("opportunity", i).items() if k in kept},
                [(d["changes"], d["cause"]) for r, d in updates if r == i],
                by_record[i].status,
                [
                    {k: v for k, v in c.items() if k != "changed"}
                    | {"fields": [f["fields"] for f in c.get("changed", ())]}
                    for c in by_record[i].changes
                ],
            )
            for i in ids
        ]

    assert left(batched) == left(single)
    assert left(batched)[0][0]["owner"] is None
    # the notice reads the record as found, before the update: ann's, version 1
    ann = rules.users["ann"]
    each = [
        (ann, f"Deal {n} closes in three days", f"Deal {n}, version 1, reminded None")
        for n in range(3)
    ]
    assert _told(rules) == sorted(each * 2)


def test_an_update_of_the_record_found_sends_as_many_statements_for_many_records_as_for_few(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(remind=LET_GO_AND_TELL)
    owner = {"owner": rules.users["ann"]}
    _due(rules, 2, **owner)
    _due(rules, 9, **{**owner, "expected_close": "2026-03-13"})
    with _statements(rules) as for_few:
        assert rules.automations.sweep("rules", "remind", NINE) == 2
    with _statements(rules) as for_many:
        assert rules.automations.sweep("rules", "remind", TENTH) == 9
    assert len(for_many) == len(for_few)
    assert rules.get("opportunity", 11)["owner"] is None


HAND_ON = """\
key: remind
label: Flag the deal whose id the amount gives
form: opportunity
trigger: {type: date, field: expected_close, days_before: 3, at: "09:00"}
actions:
  - action: update_records
    params: {form: opportunity, ids: "amount", values: {reminded: true}}
"""


def test_an_update_of_other_records_than_the_one_found_runs_record_by_record(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(remind=HAND_ON)
    elsewhere = rules.create("opportunity", {"name": "Elsewhere"})["id"]
    pointing = _due(rules, 1, amount=str(elsewhere))[0]
    itself = _due(rules, 1)[0]
    rules.update("opportunity", itself, {"amount": str(itself)})
    assert rules.automations.sweep("rules", "remind", NINE) == 2
    assert rules.get("opportunity", elsewhere)["reminded"] is True
    assert rules.get("opportunity", pointing)["reminded"] is not True
    assert rules.get("opportunity", itself)["reminded"] is True
    by_record = {run.record_id: run for run in rules.runs(automation_key="remind")}
    assert by_record[pointing].changes == [
        {
            "action": "update_records",
            "changed": [{"form": "opportunity", "id": elsewhere, "fields": ["reminded"]}],
        }
    ]


def test_an_update_whose_ids_name_no_record_changes_nothing_and_is_done(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(remind=HAND_ON)
    due = _due(rules, 2)  # no amount: no record to change
    with _statements(rules) as sent:
        assert rules.automations.sweep("rules", "remind", NINE) == 2
    assert not [s for s in sent if s.startswith("UPDATE")]
    runs = rules.runs(automation_key="remind")
    assert sorted(run.record_id for run in runs) == sorted(due)
    assert [run.changes for run in runs] == [[{"action": "update_records", "changed": []}]] * 2


def test_a_slice_tells_each_owner_only_the_fields_they_may_read_in_as_many_statements(
    make_rules: MakeRules,
) -> None:
    form = (RULES_DIR / "forms" / "opportunity.yaml").read_text("utf-8")
    hiding = form.replace(
        "staff: {create: all, read: all, update: all, delete: all}",
        "staff: {create: all, read: all, update: all, delete: all, fields: {amount: hidden}}\n"
        "  manager: {read: all}",
    )
    rules = make_rules(
        remind=FLAG_AND_TELL.replace("version {{ version }}", "worth {{ amount }}"),
        files={"forms/opportunity.yaml": hiding},
    )
    ann, max_ = rules.users["ann"], rules.users["max"]
    _due(rules, 1, owner=ann, amount="5.00")
    _due(rules, 1, owner=max_, amount="5.00")
    for owner in (ann, max_) * 4:
        _due(rules, 1, owner=owner, amount="5.00", expected_close="2026-03-13")
    with _statements(rules) as for_few:
        assert rules.automations.sweep("rules", "remind", NINE) == 2
    with _statements(rules) as for_many:
        assert rules.automations.sweep("rules", "remind", TENTH) == 8
    assert len(for_many) == len(for_few)
    bodies = {(user_id, body) for user_id, _title, body in _told(rules)}
    assert {body for user_id, body in bodies if user_id == ann} == {"Deal 0, worth , reminded True"}
    assert {body for user_id, body in bodies if user_id == max_} == {
        "Deal 0, worth 5.00, reminded True"
    }
