"""``duplicate_checks`` in app.yaml: compiled, or refused at file:line:col."""

from __future__ import annotations

import pytest

from formflow.definitions import load_app
from formflow.definitions.model import DuplicateEffect
from formflow.errors import DefinitionErrors
from support import MINIMAL_APP_YAML, AppWriter

FORM = """\
key: party
label: Party
title_field: name
fields:
  - key: name
    type: text
    label: Name
  - key: phone
    type: phone
    label: Phone
  - key: size
    type: number
    label: Size
permissions:
  staff: {create: all, read: all, update: all, delete: all}
"""


def _app(checks: str) -> str:
    return MINIMAL_APP_YAML + "duplicate_checks:\n" + checks


def test_checks_compile(write_app: AppWriter) -> None:
    folder = write_app(
        _app(
            "  - {key: name, fields: [party.name], normalise: company_name, effect: warn}\n"
            "  - {key: phone, label: Phone, fields: [party.phone], normalise: phone, effect: block}\n"
        ),
        forms={"party": FORM},
    )
    (name, phone) = load_app(folder).duplicate_checks
    assert name.fields == (("party", "name"),)
    assert name.effect is DuplicateEffect.WARN
    assert phone.normaliser == "phone"
    assert phone.effect is DuplicateEffect.BLOCK


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("[party.nme]", "unknown field 'nme' in form 'party'; did you mean 'name'?"),
        ("[partie.name]", "unknown form 'partie'; did you mean 'party'?"),
        ("[party.size]", "'party.size' must be a text field the person fills in (it is number)"),
        ("[party.name, party.name]", "'party.name' is named twice"),
    ],
)
def test_a_check_naming_what_is_not_there_is_refused_at_its_place(
    write_app: AppWriter, fields: str, message: str
) -> None:
    folder = write_app(
        _app(f"  - key: x\n    fields: {fields}\n    normalise: text\n    effect: warn\n"),
        forms={"party": FORM},
    )
    with pytest.raises(DefinitionErrors) as raised:
        load_app(folder)
    line = MINIMAL_APP_YAML.count("\n") + 3
    assert any(
        error.message == message and error.line == line and error.file.endswith("app.yaml")
        for error in raised.value.errors
    ), [str(e) for e in raised.value.errors]


def test_an_unknown_normaliser_is_refused_by_the_schema(write_app: AppWriter) -> None:
    folder = write_app(
        _app("  - {key: x, fields: [party.name], normalise: soundex, effect: warn}\n"),
        forms={"party": FORM},
    )
    with pytest.raises(DefinitionErrors) as raised:
        load_app(folder)
    assert "app.yaml" in str(raised.value)
