"""Importing a zip over an installed app merges it like an upgrade, never over it; a release
uploaded as a zip starts an upgrade. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from upgrade_fixture import BASE_FORM, PATH, RELEASE_2_APP, THEIRS_FORM, customise

from formflow.designer import Designer
from formflow.designer.bundles import BundleRefused, write_bundle
from formflow.designer.merge import CONFLICT, DECISION, ORPHAN
from formflow.designer.upgrades import IMPORT, RELEASE, Answer, ReleaseRefused, release_files
from formflow.lifecycle.instance import Instance
from formflow.storage.database import read_transaction
from formflow.storage.versions import current_version

STAGING = {"app.yaml": RELEASE_2_APP, PATH: THEIRS_FORM}
"""The app as changed elsewhere (another instance's export): the fixture's new release."""


INSTALLED_FORM = BASE_FORM
"""Release 1.0 of the fixture's form is installed (tests/designer/conftest.py)."""


@pytest.fixture
def designer(instance: Instance) -> Designer:
    return customise(Designer(instance))


def live_text(instance: Instance) -> str:
    with read_transaction(instance.engine) as connection:
        live = current_version(connection, "demo")
    assert live is not None
    return live.files[PATH]


def kinds(designer: Designer) -> list[str]:
    upgrade = designer.upgrade_state("demo")
    assert upgrade is not None
    return sorted(issue.kind for issue in upgrade.issues)


def test_an_import_is_merged_against_the_base_with_the_upgrade_s_report(
    designer: Designer, instance: Instance
) -> None:
    before = live_text(instance)
    upgrade = designer.import_bundle("demo", write_bundle("demo", 7, STAGING), None)
    assert upgrade.source == IMPORT
    assert upgrade.version_label == "2.0 (version 7)"
    assert kinds(designer) == sorted([CONFLICT, ORPHAN, DECISION])
    draft = designer.draft("demo").files[PATH].text
    assert "货架" in draft  # the admin's field is kept, not overwritten by the zip
    assert "到期日" in draft  # and the zip's new field is merged in
    assert live_text(instance) == before


def test_an_export_imported_back_changes_nothing(designer: Designer, instance: Instance) -> None:
    upgrade = designer.import_bundle("demo", designer.export("demo"), None)
    assert upgrade.issues == ()
    assert designer.draft("demo").files[PATH].text == live_text(instance)


def test_publishing_an_import_leaves_the_release_as_the_base(
    designer: Designer, instance: Instance
) -> None:
    upgrade = designer.import_bundle("demo", write_bundle("demo", 7, STAGING), None)
    for issue in upgrade.issues:
        choice = {CONFLICT: "ours", ORPHAN: "drop", DECISION: "confirm"}[issue.kind]
        designer.resolve_upgrade("demo", Answer(issue.id, choice), None)
    assert designer.publish("demo", None, "admin", "imported") is not None
    assert "到期日" in live_text(instance)
    with read_transaction(instance.engine) as connection:
        assert release_files(connection, "demo")[PATH] == BASE_FORM
    assert designer.upgrade_state("demo") is None


def test_a_bundle_that_needs_a_missing_plugin_lists_it_first(designer: Designer) -> None:
    needing = THEIRS_FORM.replace("type: date", "type: company_lookup").replace(
        "title_field: a", "title_field: nowhere"
    )
    bundle = write_bundle("demo", 7, {**STAGING, PATH: needing})
    with pytest.raises(ReleaseRefused) as refused:
        designer.import_bundle("demo", bundle, None)
    [missing] = refused.value.missing
    assert "unknown field type 'company_lookup'" in missing.message
    assert refused.value.errors  # the title field, after it
    lines = str(refused.value).splitlines()
    assert lines[1].startswith(f"missing plugin: {PATH}:")
    assert designer.upgrade_state("demo") is None


def test_another_app_s_bundle_is_not_imported(designer: Designer) -> None:
    with pytest.raises(BundleRefused, match="holds app 'other'"):
        designer.import_bundle("demo", write_bundle("other", 1, STAGING), None)


def test_a_release_uploaded_as_a_zip_starts_the_upgrade(
    designer: Designer, instance: Instance
) -> None:
    before = live_text(instance)
    upgrade = designer.upgrade_bundle("demo", write_bundle("demo", None, STAGING), None)
    assert upgrade.source == RELEASE
    assert upgrade.version_label == "2.0"
    assert kinds(designer) == sorted([CONFLICT, ORPHAN, DECISION])
    assert live_text(instance) == before


def test_a_damaged_release_zip_starts_nothing(designer: Designer) -> None:
    with pytest.raises(BundleRefused, match="not a zip"):
        designer.upgrade_bundle("demo", b"PK\x03\x04 not really", None)
    assert designer.upgrade_state("demo") is None
