"""A record created with the records that link to it (a form's ``inline``): all of them in
one unit of work, every problem reported at once under ``<form>.<row>.<field>``."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from formflow.definitions import load_app
from formflow.errors import DefinitionErrors, ValidationFailed
from formflow.records.access import Actor
from formflow.records.inline import create_with_inline
from formflow.records.query import Query
from formflow.records.service import RecordService
from formflow.storage.tables import AppSchema
from support import AppWriter

ACCOUNT = """\
key: account
label: Account
title_field: name
fields:
  - {key: name, type: text, label: Name, required: true}
inline:
  - {form: person, link: account, fields: [name, email]}
permissions: {}
"""

PERSON = """\
key: person
label: Person
title_field: name
fields:
  - {key: account, type: link, label: Account, form: account, required: true}
  - {key: name, type: text, label: Name, required: true}
  - {key: email, type: email, label: E-mail, unique: true}
permissions: {}
"""


@pytest.fixture
def service(engine: Engine, write_app: AppWriter) -> RecordService:
    app = load_app(write_app(forms={"account": ACCOUNT, "person": PERSON}))
    schema = AppSchema(app)
    schema.metadata.create_all(engine)
    return RecordService(engine, schema)


def count(service: RecordService, form_key: str) -> int:
    return len(service.find(Actor.system(), form_key, Query()).rows)


def test_the_record_and_its_rows_are_created_linked(service: RecordService) -> None:
    rows = {"person": [{"name": "Ann", "email": "ann@example.com"}, {"name": "Ben"}]}
    account = create_with_inline(service, Actor.system(), "account", {"name": "Acme"}, rows)
    people = service.find(Actor.system(), "person", Query()).rows
    assert sorted((p["name"], p["account"]) for p in people) == [
        ("Ann", account["id"]),
        ("Ben", account["id"]),
    ]


def test_every_problem_is_reported_and_nothing_is_stored(service: RecordService) -> None:
    rows = {"person": [{"name": "Ann", "email": "not mail"}, {"email": "b@example.com"}]}
    with pytest.raises(ValidationFailed) as raised:
        create_with_inline(service, Actor.system(), "account", {}, rows)
    assert sorted(raised.value.problems) == ["name", "person.0.email", "person.1.name"]
    assert count(service, "account") == 0


def test_a_row_refused_on_save_undoes_the_record(service: RecordService) -> None:
    create_with_inline(
        service,
        Actor.system(),
        "account",
        {"name": "A"},
        {"person": [{"name": "X", "email": "x@example.com"}]},
    )
    rows = {
        "person": [{"name": "Y", "email": "y@example.com"}, {"name": "Z", "email": "x@example.com"}]
    }
    with pytest.raises(ValidationFailed) as raised:
        create_with_inline(service, Actor.system(), "account", {"name": "B"}, rows)
    assert list(raised.value.problems) == ["person.1.email"]
    assert count(service, "account") == 1
    assert count(service, "person") == 1


def test_only_declared_forms_are_added_inline(service: RecordService) -> None:
    with pytest.raises(ValidationFailed):
        create_with_inline(service, Actor.system(), "account", {"name": "A"}, {"account": [{}]})


@pytest.mark.parametrize(
    ("inline", "message"),
    [
        ("{form: persn, link: account, fields: [name]}", "unknown form 'persn'"),
        ("{form: person, link: name, fields: [name]}", "'name' is not a link field of 'person'"),
        ("{form: person, link: account, fields: [account]}", "not asked inline"),
        ("{form: person, link: account, fields: [nam]}", "unknown field 'nam'"),
    ],
)
def test_inline_mistakes_are_named_at_their_place(
    write_app: AppWriter, inline: str, message: str
) -> None:
    account = ACCOUNT.replace("{form: person, link: account, fields: [name, email]}", inline)
    with pytest.raises(DefinitionErrors) as raised:
        load_app(write_app(forms={"account": account, "person": PERSON}))
    assert message in str(raised.value)
    assert "forms/account.yaml:" in str(raised.value)
