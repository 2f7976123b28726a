"""Roll-ups, lookups and rules that cannot work are refused at FILE:LINE:COL."""

from __future__ import annotations

from formflow.definitions import load_app
from support import AppWriter, definition_errors

PARENT = """\
key: parent
label: Parent
title_field: name
fields:
  - {key: name, type: text, label: Name}
  - {key: total, type: rollup, label: Total, form: child, link: parent, aggregate: sum, field: amount}
permissions: {}
"""
CHILD = """\
key: child
label: Child
title_field: name
fields:
  - {key: name, type: text, label: Name}
  - {key: parent, type: link, label: Parent, form: parent}
  - {key: amount, type: money, label: Amount}
  - {key: parent_total, type: lookup, label: Parent total, link: parent, field: total}
permissions: {}
"""


def forms(parent: str = PARENT, child: str = CHILD) -> dict[str, str]:
    return {"parent": parent, "child": child}


def test_a_valid_rollup_and_lookup_take_the_kind_and_scale_of_their_source(
    write_app: AppWriter,
) -> None:
    app = load_app(write_app(forms=forms()))
    total = app.form("parent").field("total")
    shown = app.form("child").field("parent_total")
    assert (total.kind, total.scale, total.field_type.display_style(total)) == (
        "decimal",
        2,
        "money",
    )
    assert (shown.kind, shown.scale, shown.readonly) == ("decimal", 2, True)


def test_a_rollup_over_an_unknown_form_is_refused_at_its_form_key(write_app: AppWriter) -> None:
    parent = PARENT.replace("form: child", "form: chid")
    assert definition_errors(write_app(forms=forms(parent))) == [
        "forms/parent.yaml:6:52: unknown form 'chid'; did you mean 'child'?"
    ]


def test_a_rollup_through_a_field_that_is_no_link_to_this_form_is_refused(
    write_app: AppWriter,
) -> None:
    parent = PARENT.replace("link: parent", "link: amount")
    assert definition_errors(write_app(forms=forms(parent))) == [
        "forms/parent.yaml:6:65: 'amount' of form 'child' is not a link to this form; "
        "its links to parent: parent"
    ]


def test_a_sum_of_text_is_refused_at_the_aggregate(write_app: AppWriter) -> None:
    parent = PARENT.replace("field: amount", "field: name")
    assert definition_errors(write_app(forms=forms(parent))) == [
        "forms/parent.yaml:6:84: sum needs a number or money field; 'name' is a text field"
    ]


def test_a_rollup_of_an_unknown_field_is_refused_at_the_field(write_app: AppWriter) -> None:
    parent = PARENT.replace("field: amount", "field: amont")
    assert definition_errors(write_app(forms=forms(parent))) == [
        "forms/parent.yaml:6:96: unknown field 'amont'; did you mean 'amount'?"
    ]


def test_a_lookup_through_an_unknown_link_is_refused(write_app: AppWriter) -> None:
    child = CHILD.replace("link: parent, field", "link: parnt, field")
    assert definition_errors(write_app(forms=forms(child=child))) == [
        "forms/child.yaml:8:66: unknown link field 'parnt'; did you mean 'parent'?"
    ]


def test_values_computed_in_a_circle_are_refused(write_app: AppWriter) -> None:
    parent = PARENT.replace("field: amount", "field: parent_total")
    errors = definition_errors(write_app(forms=forms(parent)))
    assert errors == [
        "forms/parent.yaml:6:52: values computed in a circle: "
        "parent.total -> child.parent_total -> parent.total"
    ]


def test_a_rule_on_an_unknown_field_or_reading_an_unknown_name_is_refused(
    write_app: AppWriter,
) -> None:
    rules = (
        "rules:\n"
        "  - key: positive\n"
        "    expression: amont > 0\n"
        "    message: {en: Must be positive, zh: 必须为正数}\n"
        "    field: amont\n"
    )
    child = CHILD.replace("permissions: {}\n", rules + "permissions: {}\n")
    assert definition_errors(write_app(forms=forms(child=child))) == [
        "forms/child.yaml:11:17: expression uses unknown name 'amont'; did you mean 'amount'?",
        "forms/child.yaml:13:12: unknown field 'amont'; did you mean 'amount'?",
    ]


def test_a_rollup_cannot_be_required(write_app: AppWriter) -> None:
    parent = PARENT.replace("field: amount}", "field: amount, required: true}")
    assert definition_errors(write_app(forms=forms(parent))) == [
        "forms/parent.yaml:6:114: 'required': False was expected"
    ]
