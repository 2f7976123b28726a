"""The ``notify`` action tells users, a role's members or the person a user field names,
with a title and text rendered from templates over the record; in the app and by e-mail."""

from __future__ import annotations

from rules_support import RULES_DIR, MakeRules, Rules
from sqlalchemy import update

from formflow import accounts
from formflow.actions import ActionServices
from formflow.config import SmtpSettings
from formflow.notifications import Notification, Notifications
from formflow.notifications.email import EmailChannel
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import users
from formflow.testing import smtp_server

WON = """\
key: tell_won
label: Tell about won deals
form: opportunity
trigger: {{type: field_changed, fields: [stage], to: won}}
actions:
  - action: notify
    params:
      {who}
      title: "Won: {{{{ name }}}}"
      body: "{{{{ name }}}} is worth {{{{ amount }}}}"
"""


def told(rules: Rules, name: str) -> list[Notification]:
    notifications = Notifications(rules.engine)
    with rules.engine.connect() as connection:
        return notifications.list_for(connection, rules.users[name])


def win(rules: Rules, **values: object) -> int:
    deal = rules.create("opportunity", {"name": "Big deal", "amount": "120.00", **values})
    rules.update("opportunity", deal["id"], {"stage": "won"})
    return int(deal["id"])


def test_notify_tells_named_users_with_the_rendered_title_and_text(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(tell_won=WON.format(who="users: [ann, bob]"))
    deal_id = win(rules)
    for name in ("ann", "bob"):
        (notification,) = told(rules, name)
        assert notification.text() == ("Won: Big deal", "Big deal is worth 120.00")
        assert (notification.form_key, notification.record_id) == ("opportunity", deal_id)
    assert told(rules, "max") == []


def test_notify_tells_the_members_of_a_role(make_rules: MakeRules) -> None:
    rules = make_rules(tell_won=WON.format(who="roles: [manager]"))
    win(rules)
    assert [found.title for found in told(rules, "max")] == ["Won: Big deal"]
    assert told(rules, "ann") == []


def test_notify_tells_the_person_a_user_field_names(make_rules: MakeRules) -> None:
    rules = make_rules(tell_won=WON.format(who="user_field: owner"))
    deal = rules.create("opportunity", {"name": "Big deal", "amount": "1.00"})
    rules.update("opportunity", deal["id"], {"owner": rules.users["bob"]})
    rules.update("opportunity", deal["id"], {"stage": "won"})
    assert [found.kind for found in told(rules, "bob")] == ["automation"]
    assert told(rules, "ann") == []


def test_notify_e_mails_the_people_it_tells(make_rules: MakeRules) -> None:
    rules = make_rules(tell_won=WON.format(who="users: [ann]"))
    with write_transaction(rules.engine) as connection:
        connection.execute(
            update(users).where(users.c.id == rules.users["ann"]).values(email="ann@example.test")
        )
    with smtp_server() as mailbox:
        channel = EmailChannel(SmtpSettings(host="127.0.0.1", port=mailbox.port, security="none"))
        rules.automations.services = ActionServices(
            notifications=Notifications(rules.engine, [channel])
        )
        win(rules)
    ((to, mail),) = mailbox.messages
    assert to == ["ann@example.test"]
    assert mail["Subject"] == "[Formflow] Won: Big deal"
    assert "Big deal is worth 120.00" in mail.get_content()


def test_the_run_log_says_whom_notify_told(make_rules: MakeRules) -> None:
    rules = make_rules(tell_won=WON.format(who="users: [ann, nobody]"))
    win(rules)
    (run,) = rules.runs()
    assert run.changes == [{"action": "notify", "users": [rules.users["ann"]], "notifications": 1}]


def test_a_template_function_handed_the_context_reads_every_field(make_rules: MakeRules) -> None:
    rules = make_rules(
        tell_won=WON.format(who="users: [ann]").replace(
            "is worth {{ amount }}", "has {{ shown() }}"
        )
    )
    win(rules)
    (notification,) = told(rules, "ann")
    assert notification.text() == ("Won: Big deal", "Big deal has amount 120.00, stage won")


LOOPING = """\
key: tell_won
label: Tell about won deals
form: opportunity
trigger: {type: field_changed, fields: [stage], to: won}
actions:
  - action: notify
    params:
      users: [ann]
      title: "Won"
      body: "{% set s = name * 10000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}"
"""


def test_a_notification_template_that_loops_too_long_is_refused_and_tells_nobody(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(tell_won=LOOPING)
    win(rules)
    (run,) = rules.runs()
    assert run.status == "error"
    assert "the notification's body failed: its loops run more than 50,000 times" in run.error
    assert told(rules, "ann") == []


AMOUNT_HIDDEN_FROM_STAFF = {
    "forms/opportunity.yaml": (RULES_DIR / "forms" / "opportunity.yaml")
    .read_text("utf-8")
    .replace(
        "staff: {create: all, read: all, update: all, delete: all}",
        "staff: {create: all, read: all, update: all, delete: all, fields: {amount: hidden}}\n"
        "  manager: {read: all}",
    )
}


def test_each_person_named_is_told_only_the_fields_they_may_read(make_rules: MakeRules) -> None:
    rules = make_rules(files=AMOUNT_HIDDEN_FROM_STAFF, tell_won=WON.format(who="users: [ann, max]"))
    win(rules)
    assert [found.text() for found in told(rules, "ann")] == [
        ("Won: Big deal", "Big deal is worth ")
    ]
    assert [found.text() for found in told(rules, "max")] == [
        ("Won: Big deal", "Big deal is worth 120.00")
    ]


def test_the_person_a_user_field_names_is_told_only_what_they_may_read(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(files=AMOUNT_HIDDEN_FROM_STAFF, tell_won=WON.format(who="user_field: owner"))
    deal = rules.create("opportunity", {"name": "Big deal", "amount": "1.00"})
    rules.update("opportunity", deal["id"], {"owner": rules.users["ann"], "amount": "2.00"})
    rules.update("opportunity", deal["id"], {"stage": "won"})
    assert [found.text() for found in told(rules, "ann")] == [
        ("Won: Big deal", "Big deal is worth ")
    ]


def test_the_old_value_of_a_hidden_field_is_not_told_either(make_rules: MakeRules) -> None:
    rules = make_rules(
        files=AMOUNT_HIDDEN_FROM_STAFF,
        tell_won=WON.format(who="users: [ann]").replace("{{ amount }}", "{{ old.amount }}"),
    )
    win(rules)
    assert [found.text() for found in told(rules, "ann")] == [
        ("Won: Big deal", "Big deal is worth ")
    ]


def test_someone_who_may_not_read_the_form_is_told_only_what_every_role_may_read(
    make_rules: MakeRules, password_hash: str
) -> None:
    rules = make_rules(files=AMOUNT_HIDDEN_FROM_STAFF, tell_won=WON.format(who="users: [eve]"))
    with write_transaction(rules.engine) as connection:
        rules.users["eve"] = accounts.create_user(
            connection, "eve", None, password_hash=password_hash, department_id=None, roles={}
        )
    win(rules)
    assert [found.text() for found in told(rules, "eve")] == [
        ("Won: Big deal", "Big deal is worth ")
    ]


def test_the_run_log_counts_one_notification_per_person_however_many_texts(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(
        files=AMOUNT_HIDDEN_FROM_STAFF, tell_won=WON.format(who="users: [ann, max, bob]")
    )
    win(rules)
    (run,) = rules.runs()
    people = [rules.users[name] for name in ("ann", "max", "bob")]
    assert run.changes == [{"action": "notify", "users": people, "notifications": 3}]
