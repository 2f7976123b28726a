"""Upgrading a customised app: the merge becomes a draft, resolved, then published; the
live app runs unchanged until then. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from upgrade_fixture import BASE_FORM, PATH, RELEASE_2_APP, THEIRS_FORM, customise

from formflow.designer import Designer
from formflow.designer.documents import Document, to_plain
from formflow.designer.merge import CONFLICT, DECISION, ORPHAN
from formflow.designer.operations import HideField
from formflow.designer.upgrades import Answer, UpgradeError, UpgradeUnresolved, release_files
from formflow.lifecycle.instance import Instance
from formflow.storage.database import read_transaction
from formflow.storage.versions import current_version

INSTALLED_FORM = BASE_FORM
"""Release 1.0 of the fixture's form is installed (tests/designer/conftest.py)."""


@pytest.fixture
def designer(instance: Instance) -> Designer:
    return customise(Designer(instance))


RELEASE_2 = {"app.yaml": RELEASE_2_APP, PATH: THEIRS_FORM}


def keys(text: str) -> list[str]:
    return [item["key"] for item in to_plain(Document(PATH, text).data)["fields"]]


def live_text(instance: Instance) -> str:
    with read_transaction(instance.engine) as connection:
        live = current_version(connection, "demo")
    assert live is not None
    return live.files[PATH]


def test_installing_an_app_keeps_its_release_as_the_base(
    designer: Designer, instance: Instance
) -> None:
    with read_transaction(instance.engine) as connection:
        assert release_files(connection, "demo")[PATH] == BASE_FORM


def test_the_plan_reports_the_fixture_and_writes_nothing(
    designer: Designer, instance: Instance
) -> None:
    before = designer.draft("demo").texts()
    result = designer.plan_upgrade("demo", RELEASE_2)
    kinds = sorted(issue.kind for issue in result.issues)
    assert kinds == [CONFLICT, DECISION, ORPHAN]
    assert designer.draft("demo").texts() == before
    assert designer.upgrade_state("demo") is None


def test_the_upgrade_is_a_draft_and_the_live_app_is_untouched(
    designer: Designer, instance: Instance
) -> None:
    live = live_text(instance)
    upgrade = designer.upgrade("demo", RELEASE_2, None)
    assert len(upgrade.unresolved) == 3
    assert keys(designer.draft("demo").files[PATH].text) == ["a", "b", "c", "f", "e", "g"]
    assert live_text(instance) == live
    assert [field.key for field in instance.app("demo").forms["item"].fields][:6] == [
        "a",
        "b",
        "d",
        "c",
        "f",
        "e",
    ]


def test_publishing_is_refused_until_every_issue_is_resolved(
    designer: Designer, instance: Instance
) -> None:
    live = live_text(instance)
    designer.upgrade("demo", RELEASE_2, None)
    assert not designer.preview("demo").publishable
    with pytest.raises(UpgradeUnresolved):
        designer.publish("demo", None, "admin", "too soon")
    assert live_text(instance) == live


def test_choosing_the_release_s_label_resolves_the_conflict_on_the_draft(
    designer: Designer,
) -> None:
    upgrade = designer.upgrade("demo", RELEASE_2, None)
    [conflict] = [issue for issue in upgrade.issues if issue.kind == CONFLICT]
    after = designer.resolve_upgrade("demo", Answer(conflict.id, "theirs"), None)
    assert conflict not in after.unresolved
    assert "    label: {zh: 物品名称, en: Item name}\n" in designer.draft("demo").files[PATH].text


def test_placing_an_orphan_moves_it_after_the_item_chosen(designer: Designer) -> None:
    upgrade = designer.upgrade("demo", RELEASE_2, None)
    [orphan] = [issue for issue in upgrade.issues if issue.kind == ORPHAN]
    designer.resolve_upgrade("demo", Answer(orphan.id, "place", after="e"), None)
    assert keys(designer.draft("demo").files[PATH].text) == ["a", "b", "f", "e", "c", "g"]


def test_hiding_a_new_field_answers_its_decision(designer: Designer) -> None:
    upgrade = designer.upgrade("demo", RELEASE_2, None)
    [decision] = [issue for issue in upgrade.issues if issue.kind == DECISION]
    designer.resolve_upgrade("demo", Answer(decision.id, "hide"), None)
    draft = to_plain(Document(PATH, designer.draft("demo").files[PATH].text).data)
    assert draft["fields"][-1] == {
        "key": "g",
        "type": "date",
        "label": {"zh": "到期日", "en": "Due"},
        "visible_if": "false",
    }


def test_a_choice_that_does_not_fit_the_issue_is_refused(designer: Designer) -> None:
    upgrade = designer.upgrade("demo", RELEASE_2, None)
    with pytest.raises(UpgradeError):
        designer.resolve_upgrade("demo", Answer(upgrade.issues[0].id, "hide"), None)
    with pytest.raises(UpgradeError):
        designer.resolve_upgrade("demo", Answer("conflict:nowhere", "ours"), None)


def test_a_resolved_upgrade_publishes_and_becomes_the_base(
    designer: Designer, instance: Instance
) -> None:
    upgrade = designer.upgrade("demo", RELEASE_2, None)
    choices = {CONFLICT: "ours", ORPHAN: "place", DECISION: "confirm"}
    for issue in upgrade.issues:
        designer.resolve_upgrade("demo", Answer(issue.id, choices[issue.kind], after="a"), None)
    assert designer.publish("demo", None, "admin", "release 2.0") is not None
    assert keys(live_text(instance)) == ["a", "c", "b", "f", "e", "g"]
    assert instance.app("demo").version == "2.0"
    assert designer.upgrade_state("demo") is None
    with read_transaction(instance.engine) as connection:
        assert release_files(connection, "demo")[PATH] == THEIRS_FORM


def test_an_upgrade_over_unpublished_work_is_refused(designer: Designer) -> None:
    draft = designer.draft("demo").files[PATH]
    designer.apply("demo", PATH, draft.revision, [HideField("e")], user_id=None)
    with pytest.raises(UpgradeError):
        designer.upgrade("demo", RELEASE_2, None)


def test_discarding_the_draft_forgets_the_upgrade(designer: Designer) -> None:
    designer.upgrade("demo", RELEASE_2, None)
    designer.discard("demo")
    assert designer.upgrade_state("demo") is None
