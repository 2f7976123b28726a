"""Round-trip editing: comments, order and untouched text survive the designer."""

from __future__ import annotations

import difflib
import time
from pathlib import Path

import pytest
from designer_support import FORM_WITH_COMMENTS

from formflow.designer.documents import Document, DocumentError, UnreadableDocument
from formflow.designer.operations import AddField, HideField, MoveField, SetLabel

CRM_FORMS = sorted((Path(__file__).parents[2] / "apps" / "crm_sfa" / "forms").glob("*.yaml"))


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.mark.parametrize("path", CRM_FORMS, ids=lambda path: path.name)
def test_a_shipped_form_loaded_and_written_again_is_byte_identical(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    document = Document(path.name, text)
    document.changed = True  # write it out through the YAML writer, not the original text
    assert document.text() == text


def test_an_untouched_document_saves_its_original_text() -> None:
    text = "key: item   # odd  spacing kept\nlabel:   {zh: 条目, en: Item}\n"
    assert Document("f.yaml", text).text() == text


def test_changing_one_label_changes_one_line() -> None:
    document = Document("item.yaml", FORM_WITH_COMMENTS)
    SetLabel("qty", "en", "Amount").apply(document)
    assert changed_lines(FORM_WITH_COMMENTS, document.text()) == [
        "-    label: {zh: 数量, en: Quantity}",
        "+    label: {zh: 数量, en: Amount}",
    ]


def test_comments_survive_adding_moving_and_hiding_fields() -> None:
    document = Document("item.yaml", FORM_WITH_COMMENTS)
    AddField({"key": "note", "type": "text", "label": {"zh": "备注", "en": "Note"}}, "name").apply(
        document
    )
    MoveField("qty", 0).apply(document)
    HideField("total").apply(document)
    text = document.text()
    assert "# The things we keep track of." in text
    assert "- key: name   # shown in lists" in text
    assert text.index("key: qty") < text.index("key: name") < text.index("key: note")


FIELDS_WITH_COMMENTS_ABOVE = """\
key: item
fields:
  # what the customer calls it
  - key: name
    type: text   # free text
  # counted in pieces
  - key: qty
    type: number
  # qty times two
  - key: total
    type: formula
    expression: "(qty or 0) * 2"
# who may do what
permissions:
  staff: {create: all}
"""


@pytest.mark.parametrize(("key", "position"), [("total", 0), ("name", 2), ("qty", 0)])
def test_a_comment_above_a_field_moves_with_the_field(key: str, position: int) -> None:
    document = Document("item.yaml", FIELDS_WITH_COMMENTS_ABOVE)
    MoveField(key, position).apply(document)
    text = document.text()
    for comment, field in [
        ("# what the customer calls it", "- key: name"),
        ("# counted in pieces", "- key: qty"),
        ("# qty times two", "- key: total"),
    ]:
        assert text[text.index(comment) :].split("\n")[1].strip() == field
    assert "type: text   # free text" in text
    assert "\n# who may do what\npermissions:" in text
    assert sorted(text.splitlines()) == sorted(FIELDS_WITH_COMMENTS_ABOVE.splitlines())


def test_an_operation_on_a_missing_field_says_which() -> None:
    with pytest.raises(DocumentError, match="no item 'nope'"):
        MoveField("nope", 0).apply(Document("item.yaml", FORM_WITH_COMMENTS))


def test_text_that_is_not_yaml_is_refused_with_its_place() -> None:
    with pytest.raises(UnreadableDocument) as caught:
        Document("forms/item.yaml", "key: item\nfields: [\n  - broken: {\n")
    assert str(caught.value.error).startswith("forms/item.yaml:")
    assert caught.value.error.line > 1


CRM_OTHERS = sorted(
    path
    for folder in ("workflows", "dashboards", "automations")
    for path in (Path(__file__).parents[2] / "apps" / "crm_sfa" / folder).glob("*.yaml")
)


@pytest.mark.parametrize("path", CRM_OTHERS, ids=lambda path: path.name)
def test_shipped_flows_dashboards_and_automations_are_written_again_byte_identical(
    path: Path,
) -> None:
    """``[{manager: submitter}]`` keeps its braces, so editing a flow changes only what
    was edited."""
    text = path.read_text(encoding="utf-8")
    document = Document(path.name, text)
    document.changed = True
    assert document.text() == text


def billion_laughs(levels: int) -> str:
    """A form whose last key holds nine to the power ``levels`` copies of one word, written
    in a few hundred bytes through aliases of aliases."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return FORM_WITH_COMMENTS + "laughs:\n" + "".join(f"  {line}\n" for line in lines)


def test_a_yaml_bomb_is_refused_on_reading_with_its_place_at_once() -> None:
    """Writing a document walks its nodes, and a node reached through aliases once per
    alias: nine levels of nine aliases were a billion steps, the server busy for many minutes on
    one designer click. The designer reads no more than the compiler does."""
    started = time.process_time()
    with pytest.raises(UnreadableDocument, match="expands to more than") as caught:
        Document("forms/item.yaml", billion_laughs(9))
    assert time.process_time() - started < 2
    assert caught.value.error.file == "forms/item.yaml"
    assert caught.value.error.line > FORM_WITH_COMMENTS.count("\n")


def test_aliases_that_expand_to_little_are_still_edited() -> None:
    document = Document("forms/item.yaml", billion_laughs(3))
    SetLabel("qty", "en", "Amount").apply(document)
    assert "*a1, *a1" in document.text()


SHARED_LABEL = """\
key: item
fields:
  - key: name
    type: text
    label: &same {zh: 名称, en: Name}   # written once
  - key: note
    type: text
    label: *same
"""


@pytest.mark.parametrize("edited", ["name", "note"])
def test_relabelling_a_field_whose_label_an_alias_shares_leaves_the_other_alone(
    edited: str,
) -> None:
    """ruamel.yaml reads an alias as the very node its anchor names, so changing one
    field's label through it changed the other field's too, unseen."""
    document = Document("item.yaml", SHARED_LABEL)
    SetLabel(edited, "en", "Changed").apply(document)
    fields = {item["key"]: item for item in Document("item.yaml", document.text()).data["fields"]}
    other = "note" if edited == "name" else "name"
    assert fields[edited]["label"]["en"] == "Changed"
    assert fields[other]["label"] == {"zh": "名称", "en": "Name"}


def test_relabelling_through_an_alias_changes_only_the_alias_line() -> None:
    document = Document("item.yaml", SHARED_LABEL)
    SetLabel("note", "en", "Note").apply(document)
    assert changed_lines(SHARED_LABEL, document.text()) == [
        "-    label: *same",
        "+    label: {zh: 名称, en: Note}",
    ]


LAST_FIELD_THEN_COMMENT = """\
key: item
fields:
  - key: name
    type: text   # free text
  - {key: code, type: text}

# who may do what
permissions:
  staff: {create: all}
"""


@pytest.mark.parametrize("last", ["name", "code"], ids=["block", "flow"])
def test_a_field_added_last_goes_before_the_comment_and_blank_line_after_the_list(
    last: str,
) -> None:
    """ruamel.yaml keeps the lines after a list with its last item, so a field added at
    the end came after them: the comment about ``permissions`` stood above the new field,
    and the blank line went."""
    text = LAST_FIELD_THEN_COMMENT
    if last == "name":
        text = text.replace("  - {key: code, type: text}\n", "")
    document = Document("item.yaml", text)
    AddField({"key": "extra", "type": "text", "label": {"zh": "额外", "en": "Extra"}}).apply(
        document
    )
    assert changed_lines(text, document.text()) == [
        "+  - key: extra",
        "+    type: text",
        "+    label: {zh: 额外, en: Extra}",
    ]
    assert (
        "\n    label: {zh: 额外, en: Extra}\n\n# who may do what\npermissions:" in document.text()
    )


BLANK_LINES_BETWEEN_FIELDS = """\
key: item
fields:
  - key: name
    type: text

  - key: qty
    type: number
# who may do what

permissions:
  staff: {create: all}
"""


@pytest.mark.parametrize("key", ["name", "qty"])
def test_a_setting_added_to_a_field_goes_before_the_blank_line_after_it(key: str) -> None:
    """ruamel.yaml keeps the blank and comment lines after a mapping with its last value,
    so a new last setting (``visible_if`` when hiding) went after them."""
    document = Document("item.yaml", BLANK_LINES_BETWEEN_FIELDS)
    HideField(key).apply(document)
    assert changed_lines(BLANK_LINES_BETWEEN_FIELDS, document.text()) == [
        "+    visible_if: 'false'"
    ]
    before = "text" if key == "name" else "number"
    assert f"    type: {before}\n    visible_if: 'false'\n" in document.text()
