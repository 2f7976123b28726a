"""Drafts, publishing, history and rollback, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from formflow.designer import Designer
from formflow.designer.drafts import DraftConflict, DraftError
from formflow.designer.operations import AddField, RemovalRefused, RemoveField, SetLabel
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor

ITEM = "forms/item.yaml"
TIER = {
    "key": "tier",
    "type": "select",
    "label": {"zh": "等级", "en": "Tier"},
    "options": [{"value": "gold", "label": {"zh": "金", "en": "Gold"}}],
}


def add_tier(designer: Designer) -> None:
    revision = designer.draft("demo").files[ITEM].revision
    designer.apply("demo", ITEM, revision, [AddField(TIER, after="qty")], user_id=None)


def test_a_draft_starts_as_the_files_in_force(designer: Designer, instance: Instance) -> None:
    draft = designer.draft("demo")
    assert ITEM in draft.files
    assert draft.base_version == 1


def test_a_save_from_a_stale_tab_is_a_conflict_with_a_diff(designer: Designer) -> None:
    first = designer.draft("demo").files[ITEM]
    designer.save("demo", ITEM, first.text.replace("Quantity", "Count"), first.revision, None)
    with pytest.raises(DraftConflict) as caught:
        designer.save("demo", ITEM, first.text.replace("Quantity", "Pieces"), first.revision, None)
    assert "-    label: {zh: 数量, en: Count}" in caught.value.diff
    assert "+    label: {zh: 数量, en: Pieces}" in caught.value.diff
    assert "Count" in designer.draft("demo").files[ITEM].text


def test_saving_a_file_the_draft_lacks_is_refused_and_leaves_no_step(designer: Designer) -> None:
    with pytest.raises(DraftError, match=r"has no file forms/gone\.yaml"):
        designer.save("demo", "forms/gone.yaml", "key: gone\n", 1, None)
    assert "forms/gone.yaml" not in designer.draft("demo").files
    assert designer.can_undo("demo") == (False, False)


def test_text_that_does_not_parse_is_kept_and_reported_with_its_place(
    designer: Designer,
) -> None:
    first = designer.draft("demo").files[ITEM]
    broken = first.text + "oops: [\n"
    designer.save("demo", ITEM, broken, first.revision, None)
    assert designer.draft("demo").files[ITEM].text == broken
    [error] = designer.errors("demo")
    assert (error.file, error.line) == (ITEM, broken.count("\n") + 1)


def test_the_preview_says_what_changes_in_business_words(designer: Designer) -> None:
    add_tier(designer)
    preview = designer.preview("demo")
    assert [change.say("en") for change in preview.changes] == ["adds field Tier to Item"]
    assert [change.say("zh") for change in preview.changes] == ["adds 字段 等级 to 条目"]
    assert preview.publishable


def test_publishing_records_a_version_with_author_comment_and_plan(
    designer: Designer, instance: Instance
) -> None:
    instance.records("demo").create(Actor.system(), "item", {"name": "kept"})
    add_tier(designer)
    publication = designer.publish("demo", None, "Admin", "add a tier")
    assert publication is not None
    assert (publication.version_number, publication.author_name) == (2, "Admin")
    assert any("tier" in line for line in publication.plan)
    [latest, *_] = designer.history("demo")
    assert latest.version.is_current
    assert latest.publication == publication
    assert instance.app("demo").forms["item"].field("tier").type == "select"
    rows = instance.records("demo").find(Actor.system(), "item").rows
    assert [row["name"] for row in rows] == ["kept"]


def test_a_publish_with_no_change_creates_no_version(designer: Designer) -> None:
    assert designer.publish("demo", None, "Admin", "nothing") is None
    assert len(designer.history("demo")) == 1


def test_a_rollback_publishes_the_old_version_as_a_new_one_and_keeps_data(
    designer: Designer, instance: Instance
) -> None:
    instance.records("demo").create(Actor.system(), "item", {"name": "a", "qty": 3})
    revision = designer.draft("demo").files[ITEM].revision
    designer.apply("demo", ITEM, revision, [SetLabel("qty", "en", "Count")], None)
    designer.publish("demo", None, "Admin", "relabel")
    publication = designer.rollback("demo", 1, None, "Admin", "back to 1")
    assert publication is not None
    assert publication.version_number == 3
    assert [entry.version.number for entry in designer.history("demo")] == [3, 2, 1]
    assert instance.app("demo").forms["item"].field("qty").label.en == "Quantity"
    [row] = instance.records("demo").find(Actor.system(), "item").rows
    assert row["qty"] == 3


def test_removing_a_field_lists_everything_that_uses_it_first(designer: Designer) -> None:
    [reference] = designer.references("demo", "qty", defined_in=ITEM)
    assert (reference.file, reference.place, reference.excerpt) == (
        ITEM,
        "fields/total/expression",
        "(qty or 0) * 2",
    )


def test_a_draft_that_does_not_compile_cannot_be_published(designer: Designer) -> None:
    first = designer.draft("demo").files[ITEM]
    designer.save("demo", ITEM, first.text.replace("(qty or", "(gone or"), first.revision, None)
    preview = designer.preview("demo")
    assert not preview.publishable
    assert any("gone" in error.message for error in preview.errors)


def test_removing_a_published_field_is_refused_by_the_service(designer: Designer) -> None:
    """The page offers no Remove for it; a caller of the service is refused all the same."""
    first = designer.draft("demo").files[ITEM]
    with pytest.raises(RemovalRefused, match="'qty' is published"):
        designer.apply("demo", ITEM, first.revision, [RemoveField("qty")], None)
    assert designer.draft("demo").files[ITEM] == first


def test_removing_a_published_field_renamed_in_the_draft_is_refused(designer: Designer) -> None:
    first = designer.draft("demo").files[ITEM]
    designer.rename_field("demo", ITEM, "name", "title", None, revision=first.revision)
    revision = designer.draft("demo").files[ITEM].revision
    with pytest.raises(RemovalRefused, match="'title' is published"):
        designer.apply("demo", ITEM, revision, [RemoveField("title")], None)


def test_a_field_added_in_the_draft_can_be_removed(designer: Designer) -> None:
    add_tier(designer)
    revision = designer.draft("demo").files[ITEM].revision
    designer.apply("demo", ITEM, revision, [RemoveField("tier")], None)
    assert "key: tier" not in designer.draft("demo").files[ITEM].text


def test_an_edit_of_a_file_the_draft_lacks_is_the_designers_error(designer: Designer) -> None:
    with pytest.raises(DraftError, match=r"has no file forms/gone\.yaml"):
        designer.apply("demo", "forms/gone.yaml", 1, [SetLabel("qty", "en", "Count")], None)
