"""Workflow designer edits, simulation, undo/redo and field renames, on the round-trip YAML."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from designer_support import FORM_WITH_COMMENTS
from test_designer_flows import outline

from formflow.config import load_settings
from formflow.designer import Designer
from formflow.designer.documents import Document, DocumentError, to_plain
from formflow.designer.drafts import DraftConflict, DraftFile
from formflow.designer.flow_edits import (
    AddBranch,
    AddCondition,
    AddStep,
    Link,
    RemoveBranch,
    RemoveStep,
    SetApprovers,
    SetDecisionMode,
    SetFieldPermissions,
)
from formflow.designer.flows import flow_tree
from formflow.designer.undo import NothingToUndo
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor
from support import AppWriter

APP = """\
key: demo
version: "1.0"
label: {zh: 演示, en: Demo}
roles:
  - key: staff
    label: {zh: 员工, en: Staff}
include:
  forms: [forms/*.yaml]
  workflows: [workflows/*.yaml]
"""

FLOW = """\
# Big orders need the boss.
key: item_flow
label: {zh: 条目审批, en: Item approval}
form: item
nodes:
  - key: start
    type: start
    label: {zh: 提交, en: Submit}
    next: by_qty   # decide first
  - key: by_qty
    type: condition
    label: {zh: 按数量, en: By quantity}
    branches:
      - {when: "(qty or 0) > 10", next: boss}
      - {default: true, next: approved}
  - key: boss
    type: approval
    label: {zh: 老板, en: Boss}
    approvers: [{users: [admin]}]
    allow_self: true
    next: approved
  - key: approved
    type: end
    label: {zh: 通过, en: Approved}
"""
WORKFLOW = "workflows/item_flow.yaml"
ITEM = "forms/item.yaml"


@pytest.fixture
def flow_designer(write_app: AppWriter, tmp_path: Path, database_url: str) -> Iterator[Designer]:
    app_dir = write_app(app=APP, forms={"item": FORM_WITH_COMMENTS}, workflows={"item_flow": FLOW})
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path / "instance"), "FORMFLOW_DATABASE_URL": database_url}
    )
    initialise(settings, [app_dir], "admin", "password-1")
    opened = Instance(settings)
    yield Designer(opened)
    opened.close()


def edit(designer: Designer, *operations: object) -> str:
    revision = designer.draft("demo").files[WORKFLOW].revision
    designer.apply("demo", WORKFLOW, revision, operations, None)  # type: ignore[arg-type]
    return designer.draft("demo").files[WORKFLOW].text


def rename(designer: Designer, old: str, new: str) -> dict[str, DraftFile]:
    """Rename the item form's field from a page showing its latest revision."""
    revision = designer.draft("demo").files[ITEM].revision
    return designer.rename_field("demo", ITEM, old, new, None, revision=revision)


def test_a_step_added_at_a_branch_head_keeps_comments_and_the_flow_compiles(
    flow_designer: Designer,
) -> None:
    text = edit(flow_designer, AddStep(Link("by_qty", 1), "clerk", "approval"))
    assert "# Big orders need the boss." in text
    assert "next: by_qty   # decide first" in text
    assert "{default: true, next: clerk}" in text
    assert flow_designer.errors("demo") == ()
    data = to_plain(Document(WORKFLOW, text).data)
    assert outline(flow_tree(data))[1] == (
        "by_qty",
        [(False, ["boss"], "approved"), (True, ["clerk"], "approved")],
    )


def test_removing_a_step_joins_its_neighbours(flow_designer: Designer) -> None:
    text = edit(flow_designer, RemoveStep("boss"))
    assert '{when: "(qty or 0) > 10", next: approved}' in text
    assert "key: boss" not in text
    assert flow_designer.errors("demo") == ()


def test_conditions_branches_modes_people_and_field_permissions(
    flow_designer: Designer,
) -> None:
    text = edit(
        flow_designer,
        AddCondition(Link("boss"), "big", "(qty or 0) > 100"),
        AddBranch("big", "(qty or 0) > 50"),
        AddStep(Link("big", 0), "board", "cc"),
        SetApprovers("boss", [{"role": "staff"}, {"manager": "submitter"}]),
        SetDecisionMode("boss", "vote", 0.5),
        SetFieldPermissions("boss", {"qty": "edit", "name": "read"}),
    )
    data = to_plain(Document(WORKFLOW, text).data)
    nodes = {node["key"]: node for node in data["nodes"]}
    assert nodes["boss"]["next"] == "big"
    assert [b.get("when", "default") for b in nodes["big"]["branches"]] == [
        "(qty or 0) > 100",
        "(qty or 0) > 50",
        "default",
    ]
    assert nodes["board"] == {
        "key": "board",
        "type": "cc",
        "label": {"zh": "board", "en": "board"},
        "recipients": [{"manager": "submitter"}],
        "next": "approved",
    }
    assert nodes["boss"]["mode"] == "vote"
    assert nodes["boss"]["ratio"] == 0.5
    assert nodes["boss"]["fields"] == {"edit": ["qty"], "read": ["name"]}
    assert flow_designer.errors("demo") == ()
    text = edit(flow_designer, RemoveBranch("big", 1))
    assert "(qty or 0) > 50" not in text


def test_an_invalid_flow_says_why_and_cannot_be_published(flow_designer: Designer) -> None:
    edit(flow_designer, SetFieldPermissions("boss", {"nonexistent": "edit"}))
    errors = flow_designer.errors("demo")
    assert errors
    assert all(error.file == WORKFLOW for error in errors)
    assert not flow_designer.preview("demo").publishable


def test_the_default_branch_and_the_start_stay(flow_designer: Designer) -> None:
    with pytest.raises(DocumentError):
        edit(flow_designer, RemoveBranch("by_qty", 1))
    with pytest.raises(DocumentError):
        edit(flow_designer, RemoveStep("start"))


def test_simulate_shows_the_path_and_the_approvers(flow_designer: Designer) -> None:
    small = flow_designer.simulate("demo", "item_flow", typed={"qty": "3"})
    assert [step.key for step in small.steps] == ["start", "by_qty", "approved"]
    assert small.finished
    big = flow_designer.simulate("demo", "item_flow", typed={"qty": "30"})
    assert [step.key for step in big.steps] == ["start", "by_qty", "boss", "approved"]
    assert big.steps[1].branch == 0
    assert len(big.steps[2].people) == 1


def test_simulate_on_a_stored_record(flow_designer: Designer) -> None:
    records = flow_designer.instance.records("demo")
    made = records.create(Actor(None, is_admin=True), "item", {"name": "a", "qty": 40})
    found = flow_designer.simulate("demo", "item_flow", record_id=int(made["id"]))
    assert [step.key for step in found.steps] == ["start", "by_qty", "boss", "approved"]


def test_undo_and_redo_are_kept_with_the_draft(flow_designer: Designer) -> None:
    original = flow_designer.draft("demo").files[WORKFLOW].text
    changed = edit(flow_designer, RemoveStep("boss"))
    assert flow_designer.can_undo("demo") == (True, False)
    flow_designer.undo("demo", None)
    assert flow_designer.draft("demo").files[WORKFLOW].text == original
    assert flow_designer.can_undo("demo") == (False, True)
    flow_designer.redo("demo", None)
    assert flow_designer.draft("demo").files[WORKFLOW].text == changed
    with pytest.raises(NothingToUndo):
        flow_designer.redo("demo", None)
    flow_designer.discard("demo")
    assert flow_designer.can_undo("demo") == (False, False)


def test_a_new_step_after_an_undo_drops_the_redo(flow_designer: Designer) -> None:
    edit(flow_designer, RemoveStep("boss"))
    flow_designer.undo("demo", None)
    edit(flow_designer, SetDecisionMode("boss", "any"))
    assert flow_designer.can_undo("demo") == (True, False)


def test_renaming_a_field_rewrites_its_uses_and_keeps_the_data(
    flow_designer: Designer,
) -> None:
    records = flow_designer.instance.records("demo")
    admin = Actor(None, is_admin=True)
    made = records.create(admin, "item", {"name": "a", "qty": 7})
    edit(flow_designer, SetFieldPermissions("boss", {"qty": "edit"}))
    saved = rename(flow_designer, "qty", "quantity")
    assert set(saved) == {ITEM, WORKFLOW}
    form = flow_designer.draft("demo").files[ITEM].text
    assert "# The things we keep track of." in form
    assert "  - key: quantity\n" in form
    assert "renamed_from: qty" in form
    assert 'expression: "(quantity or 0) * 2"' in form
    assert "label: {zh: 数量, en: Quantity}" in form
    flow = flow_designer.draft("demo").files[WORKFLOW].text
    assert '"(quantity or 0) > 10"' in flow
    assert "edit: [quantity]" in flow
    assert flow_designer.errors("demo") == ()
    assert flow_designer.publish("demo", None, "admin", "rename") is not None
    after = flow_designer.instance.records("demo").get(admin, "item", int(made["id"]))
    assert after["quantity"] == 7


def test_a_rename_to_a_taken_key_is_refused(flow_designer: Designer) -> None:
    with pytest.raises(DocumentError):
        rename(flow_designer, "qty", "name")


def test_a_rename_from_a_page_older_than_the_form_is_a_conflict(flow_designer: Designer) -> None:
    shown = flow_designer.draft("demo").files[ITEM]
    flow_designer.save("demo", ITEM, shown.text + "# another tab\n", shown.revision, None)
    stale = shown.revision
    before = flow_designer.draft("demo").texts()
    with pytest.raises(DraftConflict) as refused:
        flow_designer.rename_field("demo", ITEM, "qty", "quantity", None, revision=stale)
    assert "+  - key: quantity" in refused.value.diff  # what the rename would have done
    assert flow_designer.draft("demo").texts() == before


def test_removing_a_step_drops_it_from_the_rejections_that_returned_to_it() -> None:
    text = (Path(__file__).parents[2] / "apps/crm_sfa/workflows/contract_approval.yaml").read_text(
        encoding="utf-8"
    )
    document = Document("contract_approval.yaml", text)
    RemoveStep("manager").apply(document)
    written = document.text()
    assert "reject_to: [submitter, rejected]" in written
    assert "next: by_amount" in written
    assert "key: manager" not in written


def test_removing_a_branch_removes_the_steps_only_it_reached(flow_designer: Designer) -> None:
    text = edit(flow_designer, RemoveBranch("by_qty", 0))
    assert "key: boss" not in text
    assert "{default: true, next: approved}" in text
    assert flow_designer.errors("demo") == ()


def test_a_rename_across_files_is_undone_and_redone_as_one_step(
    flow_designer: Designer,
) -> None:
    before = flow_designer.draft("demo").texts()
    rename(flow_designer, "qty", "quantity")
    renamed = flow_designer.draft("demo").texts()
    assert renamed[WORKFLOW] != before[WORKFLOW]
    flow_designer.undo("demo", None)
    assert flow_designer.draft("demo").texts() == before
    flow_designer.redo("demo", None)
    assert flow_designer.draft("demo").texts() == renamed
