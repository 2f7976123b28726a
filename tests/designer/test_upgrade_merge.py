"""The keyed three-way merge of a new release into an admin's customised app (no database)."""

from __future__ import annotations

from upgrade_fixture import BASE_FORM, OURS_FORM, PATH, THEIRS_FORM

from formflow.designer.documents import Document, to_plain
from formflow.designer.merge import CONFLICT, DECISION, ORPHAN, MergeResult, merge_release
from formflow.designer.upgrades import placements


def merge(base: str, ours: str, theirs: str) -> MergeResult:
    return merge_release({PATH: base}, {PATH: ours}, {PATH: theirs})


def field_keys(text: str) -> list[str]:
    return [item["key"] for item in to_plain(Document(PATH, text).data)["fields"]]


def field(text: str, key: str) -> dict[str, object]:
    fields = to_plain(Document(PATH, text).data)["fields"]
    found: dict[str, object] = next(item for item in fields if item["key"] == key)
    return found


def test_the_fixture_has_one_conflict_one_orphan_and_one_decision() -> None:
    result = merge(BASE_FORM, OURS_FORM, THEIRS_FORM)
    assert [issue.subject for issue in result.of_kind(CONFLICT)] == ["fields/a/label"]
    assert [issue.subject for issue in result.of_kind(ORPHAN)] == ["fields/c"]
    assert [issue.subject for issue in result.of_kind(DECISION)] == ["fields/g"]
    assert len(result.issues) == 3


def test_the_fixture_merges_the_rest_by_itself() -> None:
    merged = merge(BASE_FORM, OURS_FORM, THEIRS_FORM).files[PATH]
    assert field_keys(merged) == ["a", "b", "c", "f", "e", "g"]
    assert field(merged, "b")["visible_if"] == "false"


def test_a_conflict_holds_the_three_sides_and_the_draft_keeps_yours() -> None:
    result = merge(BASE_FORM, OURS_FORM, THEIRS_FORM)
    [conflict] = result.of_kind(CONFLICT)
    assert conflict.base.value == {"zh": "名称", "en": "Name"}
    assert conflict.ours.value == {"zh": "品名", "en": "Product"}
    assert conflict.theirs.value == {"zh": "物品名称", "en": "Item name"}
    assert field(result.files[PATH], "a")["label"] == {"zh": "品名", "en": "Product"}


def test_an_orphan_names_its_lost_anchor_and_waits_after_the_nearest_item_left() -> None:
    result = merge(BASE_FORM, OURS_FORM, THEIRS_FORM)
    [orphan] = result.of_kind(ORPHAN)
    assert orphan.anchor == "d"
    assert field_keys(result.files[PATH])[1:3] == ["b", "c"]


def test_the_release_s_comments_and_the_admin_s_comments_on_their_items_survive() -> None:
    merged = merge(BASE_FORM, OURS_FORM, THEIRS_FORM).files[PATH]
    assert merged.startswith("# Things we keep track of (release 2.0).\n")
    assert "  - key: g   # new in 2.0\n" in merged
    assert "  - key: c   # ours: the warehouse shelf\n" in merged


def test_a_change_only_the_release_made_is_taken() -> None:
    theirs = BASE_FORM.replace("en: Size}", "en: Dimensions}")
    result = merge(BASE_FORM, BASE_FORM, theirs)
    assert result.files[PATH] == theirs
    assert not result.issues


def test_a_change_only_the_admin_made_is_kept_on_the_release_s_text() -> None:
    ours = BASE_FORM.replace("en: Size}", "en: Dimensions}")
    theirs = BASE_FORM.replace("(release 1.0)", "(release 1.1)")
    merged = merge(BASE_FORM, ours, theirs).files[PATH]
    assert "en: Dimensions}" in merged
    assert "(release 1.1)" in merged


def test_changes_to_different_settings_of_one_field_both_merge() -> None:
    ours = BASE_FORM.replace(
        "    label: {zh: 尺寸, en: Size}\n", "    label: {zh: 尺寸, en: Size}\n    required: true\n"
    )
    theirs = BASE_FORM.replace("en: Size}", "en: Dimensions}")
    result = merge(BASE_FORM, ours, theirs)
    assert not result.issues
    assert field(result.files[PATH], "f") == {
        "key": "f",
        "type": "text",
        "label": {"zh": "尺寸", "en": "Dimensions"},
        "required": True,
    }


def test_the_same_change_on_both_sides_is_no_conflict() -> None:
    changed = BASE_FORM.replace("en: Size}", "en: Dimensions}")
    result = merge(BASE_FORM, changed, changed)
    assert not result.issues
    assert result.files[PATH] == changed


def test_a_changed_item_the_release_removes_is_an_orphan_kept_out_of_the_draft() -> None:
    ours = BASE_FORM.replace("en: Quantity}", "en: Count}")
    result = merge(BASE_FORM, ours, BASE_FORM.replace(D_FIELD, ""))
    [orphan] = result.issues
    assert (orphan.kind, orphan.subject, orphan.anchor) == (ORPHAN, "fields/d", None)
    assert orphan.ours.value["label"] == {"zh": "数量", "en": "Count"}
    assert "d" not in field_keys(result.files[PATH])


def test_an_unchanged_item_the_release_removes_goes() -> None:
    result = merge(BASE_FORM, BASE_FORM, BASE_FORM.replace(D_FIELD, ""))
    assert not result.issues
    assert "d" not in field_keys(result.files[PATH])


def test_both_reordering_differently_is_a_conflict_about_the_order() -> None:
    keys = ["a", "b", "d", "e", "f"]
    ours = reordered(BASE_FORM, ["a", "b", "d", "f", "e"])
    theirs = reordered(BASE_FORM, ["b", "a", "d", "e", "f"])
    [conflict] = merge(BASE_FORM, ours, theirs).issues
    assert (conflict.kind, conflict.subject) == (CONFLICT, "fields")
    assert conflict.base.value == keys
    assert conflict.ours.value == ["a", "b", "d", "f", "e"]
    assert conflict.theirs.value == ["b", "a", "d", "e", "f"]


def test_options_are_merged_by_their_value() -> None:
    base = BASE_FORM.replace(
        "    label: {zh: 尺寸, en: Size}\n",
        "    label: {zh: 尺寸, en: Size}\n    options:\n"
        "      - {value: s, label: {zh: 小, en: Small}}\n"
        "      - {value: m, label: {zh: 中, en: Medium}}\n",
    ).replace("key: f\n    type: text", "key: f\n    type: select")
    ours = base.replace("en: Small}", "en: Little}")
    theirs = base.replace(
        "      - {value: m, label: {zh: 中, en: Medium}}\n",
        "      - {value: m, label: {zh: 中, en: Medium}}\n      - {value: l, label: {zh: 大, en: Large}}\n",
    )
    result = merge(base, ours, theirs)
    assert not result.issues
    options = field(result.files[PATH], "f")["options"]
    assert options == [
        {"value": "s", "label": {"zh": "小", "en": "Little"}},
        {"value": "m", "label": {"zh": "中", "en": "Medium"}},
        {"value": "l", "label": {"zh": "大", "en": "Large"}},
    ]


def test_a_field_the_release_adds_to_an_untouched_form_needs_no_decision() -> None:
    theirs = BASE_FORM.replace("permissions:", G_FIELD + "permissions:")
    result = merge(BASE_FORM, BASE_FORM, theirs)
    assert not result.issues
    assert field_keys(result.files[PATH])[-1] == "g"


def test_a_decision_names_the_flow_steps_that_keep_the_new_field_locked() -> None:
    flow = "workflows/check.yaml"
    result = merge_release(
        {PATH: BASE_FORM, flow: FLOW},
        {PATH: OURS_FORM, flow: FLOW},
        {PATH: THEIRS_FORM, flow: FLOW},
    )
    [decision] = result.of_kind(DECISION)
    assert decision.ours.value == ["check/review"]


def test_files_are_merged_by_path() -> None:
    base = {PATH: BASE_FORM}
    ours = {PATH: BASE_FORM, "forms/mine.yaml": "key: mine\n"}
    theirs = {PATH: BASE_FORM, "forms/new.yaml": "key: new\n"}
    result = merge_release(base, ours, theirs)
    assert dict(result.files) == {
        PATH: BASE_FORM,
        "forms/new.yaml": "key: new\n",
        "forms/mine.yaml": "key: mine\n",
    }
    assert not result.issues


def reordered(text: str, keys: list[str]) -> str:
    head, rest = text.split("fields:\n", 1)
    body, tail = rest.split("permissions:", 1)
    chunks = {
        chunk.split("\n", 1)[0].split()[0]: "  - key: " + chunk
        for chunk in body.split("  - key: ")[1:]
    }
    return head + "fields:\n" + "".join(chunks[key] for key in keys) + "permissions:" + tail


D_FIELD = """\
  - key: d
    type: number
    label: {zh: 数量, en: Quantity}
"""

G_FIELD = """\
  - key: g
    type: date
    label: {zh: 到期日, en: Due}
"""

FLOW = """\
key: check
form: item
nodes:
  - key: start
    type: start
    next: review
  - key: review
    type: approval
    fields: {edit: [a]}
    next: done
  - key: done
    type: end
"""


def test_an_orphan_is_offered_every_place_starting_where_it_waits() -> None:
    result = merge(BASE_FORM, OURS_FORM, THEIRS_FORM)
    [orphan] = result.of_kind(ORPHAN)
    assert placements(result.files, orphan) == (["a", "b", "f", "e", "g"], "b")


def test_workflow_nodes_are_merged_by_their_keys() -> None:
    flow = "workflows/check.yaml"
    ours = FLOW.replace("    fields: {edit: [a]}\n", "    fields: {edit: [a, b]}\n")
    theirs = FLOW.replace(
        "    next: done\n",
        "    next: finance\n  - key: finance\n    type: approval\n    next: done\n",
    )
    result = merge_release({flow: FLOW}, {flow: ours}, {flow: theirs})
    assert not result.issues
    nodes = to_plain(Document(flow, result.files[flow]).data)["nodes"]
    assert [node["key"] for node in nodes] == ["start", "review", "finance", "done"]
    assert nodes[1] == {
        "key": "review",
        "type": "approval",
        "fields": {"edit": ["a", "b"]},
        "next": "finance",
    }
