"""Each built-in action does its work inside the run's unit of work, as the engine."""

from __future__ import annotations

from rules_support import MakeRules

from formflow.records.access import Actor
from formflow.records.query import Query


def customer_rule(key: str, label: str, mapping: str) -> str:
    """A rule: each new follow-up changes its customer with ``mapping`` (YAML)."""
    return (
        f"key: {key}\nlabel: {label}\nform: follow_up\ntrigger: {{type: created}}\n"
        "actions:\n  - action: update_records\n    params:\n      link: customer\n"
        f"      map: {{{mapping}}}\n"
    )


TOUCH_CUSTOMER = customer_rule(
    "touch_customer",
    "A follow-up updates its customer's last follow-up time",
    'last_follow_up_at: "followed_at or now"',
)


def test_update_records_through_a_link_sets_a_readonly_field(make_rules: MakeRules) -> None:
    rules = make_rules(touch_customer=TOUCH_CUSTOMER)
    customer = rules.create("customer", {"name": "Acme"})
    rules.create(
        "follow_up",
        {
            "summary": "Called",
            "customer": customer["id"],
            "followed_at": "2026-03-09T10:30:00+08:00",
        },
    )
    touched = rules.get("customer", customer["id"])
    assert touched["last_follow_up_at"].isoformat() == "2026-03-09T02:30:00+00:00"
    [run] = rules.runs(automation_key="touch_customer")
    assert run.changes == [
        {
            "action": "update_records",
            "changed": [
                {"form": "customer", "id": customer["id"], "fields": ["last_follow_up_at"]}
            ],
        }
    ]


def test_update_records_maps_from_the_record_it_changes_as_stored(make_rules: MakeRules) -> None:
    adds_one = 'touches: "(target.touches or 0) + 1"'
    rules = make_rules(count_touches=customer_rule("count_touches", "Adds a touch", adds_one))
    customer = rules.create("customer", {"name": "Acme", "touches": 5})
    for summary in ("Called", "Visited"):
        rules.create("follow_up", {"summary": summary, "customer": customer["id"]})
    assert rules.get("customer", customer["id"])["touches"] == 7


CONTRACT_FROM_WON_DEAL = """\
key: draft_contract
label: A won opportunity drafts a contract
form: opportunity
trigger: {type: field_changed, fields: [stage], to: won}
actions:
  - action: create_record
    params:
      form: contract
      values: {title: Draft contract}
      map: {customer: customer, opportunity: id, amount: amount, owner: owner}
      rows: {lines: "[{'item': name, 'qty': 1}]"}
"""


def test_create_record_maps_fields_and_subtable_rows(make_rules: MakeRules) -> None:
    rules = make_rules(draft_contract=CONTRACT_FROM_WON_DEAL)
    customer = rules.create("customer", {"name": "Acme"})
    deal = rules.create(
        "opportunity",
        {
            "name": "Big deal",
            "customer": customer["id"],
            "amount": "1200.50",
            "owner": rules.users["ann"],
        },
    )
    rules.update("opportunity", deal["id"], {"stage": "won"})
    [contract] = rules.records.find(Actor.system(), "contract", Query()).rows
    stored = rules.get("contract", contract["id"])
    assert (stored["title"], stored["customer"], stored["opportunity"]) == (
        "Draft contract",
        customer["id"],
        deal["id"],
    )
    assert str(stored["amount"]) == "1200.50"
    assert stored["owner"] == rules.users["ann"]
    assert [(row["item"], int(row["qty"])) for row in stored["lines"]] == [("Big deal", 1)]
    [run] = rules.runs(automation_key="draft_contract")
    assert run.changes == [{"action": "create_record", "form": "contract", "id": contract["id"]}]


REOWN = """\
key: move_customers
label: An approved transfer moves its customers, with their open opportunities
form: transfer
trigger: {type: approval_ended, workflow: transfer_approval, outcome: approved}
actions:
  - action: update_records
    params:
      form: customer
      ids: "customers | map(attribute='customer') | list"
      owner: to_owner
      cascade:
        - form: opportunity
          link: customer
          where: {field: stage, op: eq, value: open}
          when: carry_opportunities
        - {form: contract, link: customer}
"""


def test_update_records_reowns_linked_records_and_their_open_opportunities(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(move_customers=REOWN)
    ann, bob = rules.users["ann"], rules.users["bob"]
    moving = rules.create("customer", {"name": "Moving", "owner": ann})
    staying = rules.create("customer", {"name": "Staying", "owner": ann})
    open_deal = rules.create(
        "opportunity", {"name": "Open", "customer": moving["id"], "owner": ann}
    )
    won_deal = rules.create(
        "opportunity", {"name": "Won", "customer": moving["id"], "owner": ann, "stage": "won"}
    )
    contract = rules.create("contract", {"title": "C", "customer": moving["id"], "owner": ann})
    rep = Actor(ann, frozenset({"staff"}))
    transfer = rules.create(
        "transfer",
        {"reason": "Ann moves on", "to_owner": bob, "customers": [{"customer": moving["id"]}]},
        rep,
    )
    rules.flows.submit(rep, "transfer_approval", transfer["id"])
    assert rules.get("customer", moving["id"])["owner"] == ann  # not before the approval
    [task] = rules.flows.open_tasks_of(rules.users["max"])
    rules.flows.decide(Actor(rules.users["max"], frozenset({"manager"})), task.id, "approve")
    assert rules.get("customer", moving["id"])["owner"] == bob
    assert rules.get("customer", staying["id"])["owner"] == ann
    assert rules.get("opportunity", open_deal["id"])["owner"] == bob
    assert rules.get("opportunity", won_deal["id"])["owner"] == ann
    assert rules.get("contract", contract["id"])["owner"] == bob
    [run] = rules.runs(automation_key="move_customers")
    assert {(c["form"], c["id"]) for c in run.changes[0]["changed"]} == {
        ("customer", moving["id"]),
        ("opportunity", open_deal["id"]),
        ("contract", contract["id"]),
    }


def test_update_records_changes_the_records_linking_to_this_one(make_rules: MakeRules) -> None:
    rules = make_rules(
        mark_deals=(
            "key: mark_deals\nlabel: VIP deals\nform: customer\n"
            "trigger: {type: field_changed, fields: [level], to: vip}\n"
            "actions:\n  - action: update_records\n    params:\n"
            "      form: opportunity\n      linked_by: customer\n      values: {reminded: true}\n"
        )
    )
    customer = rules.create("customer", {"name": "Acme"})
    deal = rules.create("opportunity", {"name": "Deal", "customer": customer["id"]})
    other = rules.create("opportunity", {"name": "Other"})
    rules.update("customer", customer["id"], {"level": "vip"})
    assert rules.get("opportunity", deal["id"])["reminded"] is True
    assert rules.get("opportunity", other["id"])["reminded"] is not True


def test_a_failing_action_leaves_nothing_half_written_and_logs_why(make_rules: MakeRules) -> None:
    rules = make_rules(
        broken=(
            "key: broken\nlabel: Broken\nform: customer\ntrigger: {type: created}\n"
            "actions:\n  - set: {note: first}\n"
            "  - action: create_record\n    params: {form: follow_up, values: {summary: x}}\n"
        )
    )
    customer = rules.create("customer", {"name": "Acme"})
    assert rules.get("customer", customer["id"])["note"] is None  # the set rolled back too
    assert rules.records.find(Actor.system(), "follow_up", Query()).rows == []
    [run] = rules.runs(automation_key="broken")
    assert run.status == "error"
    assert "customer" in run.error  # the required link the new follow-up lacks
    assert run.record_id == customer["id"]
