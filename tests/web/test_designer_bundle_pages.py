"""Zips on the designer's pages: an import is merged like an upgrade and answered on the
upgrade page; a release is uploaded there; hostile zips are refused with the reason and
start nothing."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.designer import Designer
from formflow.designer.bundles import MANIFEST, checksum, write_bundle
from formflow.designer.operations import ConfigureField
from formflow.storage.versions import read_app_files
from support import CRM_APP
from web.conftest import csrf_token

Login = Callable[[str], FlaskClient]
UPGRADE = "/admin/designer/crm_sfa/upgrade"
CUSTOMER = "forms/customer.yaml"
SHIPPED = "    label: {zh: 所属行业, en: Industry}\n"


def customised(app: Flask) -> Designer:
    """The admin relabelled the industry field and published it."""
    designer = Designer(app.extensions["formflow"])
    revision = designer.draft("crm_sfa").files[CUSTOMER].revision
    ours = ConfigureField("industry", "label", {"zh": "行业", "en": "Sector"})
    designer.apply("crm_sfa", CUSTOMER, revision, [ours], user_id=None)
    designer.publish("crm_sfa", None, "admin", "our label")
    return designer


def elsewhere() -> dict[str, str]:
    """The app with the industry field relabelled differently (a release, or a zip from
    another instance)."""
    files = read_app_files(CRM_APP)
    files[CUSTOMER] = files[CUSTOMER].replace(
        SHIPPED, "    label: {zh: 行业类别, en: Line of business}\n"
    )
    return files


def upload(client: FlaskClient, path: str, name: str, data: bytes) -> str:
    answer = client.post(
        path,
        data={name: (io.BytesIO(data), "app.zip"), "csrf_token": csrf_token(client, UPGRADE)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def live_label(app: Flask) -> str:
    return str(
        app.extensions["formflow"].app("crm_sfa").forms["customer"].field("industry").label.en
    )


def test_an_imported_zip_is_answered_on_the_upgrade_page(login: Login, app: Flask) -> None:
    customised(app)
    page = upload(
        login("admin"),
        "/admin/designer/crm_sfa/import",
        "bundle",
        write_bundle("crm_sfa", 4, elsewhere()),
    )
    assert "upgrade-conflicts" in page
    assert "fields/industry/label" in page
    for value in ("Industry", "Line of business", "Sector"):
        assert value in page
    assert live_label(app) == "Sector"


def test_the_publish_page_links_to_the_import_s_issues(login: Login, app: Flask) -> None:
    customised(app)
    admin = login("admin")
    upload(
        admin, "/admin/designer/crm_sfa/import", "bundle", write_bundle("crm_sfa", 4, elsewhere())
    )
    page = admin.get("/admin/designer/crm_sfa/publish").get_data(as_text=True)
    assert "草稿中有导入的 1.0.0 (version 4) 的合并" in page


def test_with_no_upgrade_the_page_offers_to_upload_a_release(login: Login) -> None:
    page = login("admin").get(UPGRADE).get_data(as_text=True)
    assert 'name="release"' in page
    assert 'enctype="multipart/form-data"' in page


def test_a_release_uploaded_on_the_upgrade_page_is_merged_into_the_draft(
    login: Login, app: Flask
) -> None:
    designer = customised(app)
    page = upload(
        login("admin"), f"{UPGRADE}/release", "release", write_bundle("crm_sfa", None, elsewhere())
    )
    assert "fields/industry/label" in page
    assert designer.upgrade_state("crm_sfa") is not None
    assert live_label(app) == "Sector"


def zipped(entries: dict[str, str], manifest: dict[str, Any] | None = None) -> bytes:
    listed = manifest or {
        "format": 1,
        "app": "crm_sfa",
        "version": 1,
        "files": {name: checksum(text) for name, text in entries.items()},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(MANIFEST, json.dumps(listed))
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


HOSTILE = {
    "path traversal": (zipped({"../../etc/cron.yaml": "key: x\n"}), "outside the app"),
    "absolute path": (zipped({"/etc/app.yaml": "key: x\n"}), "outside the app"),
    "not a definition": (zipped({"run.py": "import os\n"}), "not a definition"),
    "bad checksum": (
        zipped(
            {"app.yaml": "key: crm_sfa\n"},
            {"format": 1, "app": "crm_sfa", "files": {"app.yaml": checksum("other")}},
        ),
        "does not match its checksum",
    ),
    "oversize": (zipped({"app.yaml": "#" * (5 * 1024 * 1024 + 1)}), "larger than 5 MB"),
    "not a zip": (b"PK\x03\x04 not really", "not a zip"),
    "another app": (
        write_bundle("other", 1, {"app.yaml": "key: other\n"}),
        "holds app &#39;other&#39;",
    ),
}


@pytest.mark.parametrize("route", ["import", "upgrade/release"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_zip_is_refused_with_its_reason_and_starts_nothing(
    login: Login, app: Flask, route: str, case: str
) -> None:
    data, reason = HOSTILE[case]
    designer = Designer(app.extensions["formflow"])
    before = designer.draft("crm_sfa").texts()
    name = "bundle" if route == "import" else "release"
    page = upload(login("admin"), f"/admin/designer/crm_sfa/{route}", name, data)
    assert reason in page
    assert "Traceback" not in page
    assert designer.upgrade_state("crm_sfa") is None
    assert designer.draft("crm_sfa").texts() == before


UPLOADS = {
    "import": ("bundle", "请选择要导入的 zip 文件。", "zip 文件未导入："),
    "upgrade/release": ("release", "请选择用于升级的 zip 文件。", "未合并该版本："),
}
"""Each upload form's file input, what it says when no zip was chosen, and how it begins a
refusal, in the admin's language."""


@pytest.mark.parametrize("route", sorted(UPLOADS))
def test_a_post_without_a_zip_asks_for_one_and_starts_nothing(
    login: Login, app: Flask, route: str
) -> None:
    _name, missing, _refusal = UPLOADS[route]
    admin = login("admin")
    answer = admin.post(
        f"/admin/designer/crm_sfa/{route}",
        data={"csrf_token": csrf_token(admin, UPGRADE)},
        follow_redirects=True,
    )
    assert missing in answer.get_data(as_text=True)
    assert Designer(app.extensions["formflow"]).upgrade_state("crm_sfa") is None


@pytest.mark.parametrize("route", sorted(UPLOADS))
def test_a_refused_zip_is_said_in_the_admin_s_language(login: Login, route: str) -> None:
    name, _missing, refusal = UPLOADS[route]
    page = upload(login("admin"), f"/admin/designer/crm_sfa/{route}", name, b"not a zip")
    assert f"{refusal}the file is not a zip" in page


def test_a_release_needing_a_missing_plugin_names_it_first(login: Login, app: Flask) -> None:
    files = elsewhere()
    files[CUSTOMER] = files[CUSTOMER].replace("type: select", "type: company_lookup", 1)
    page = upload(
        login("admin"), f"{UPGRADE}/release", "release", write_bundle("crm_sfa", None, files)
    )
    assert "missing plugin: forms/customer.yaml:" in page
    assert "unknown field type &#39;company_lookup&#39;" in page
    assert Designer(app.extensions["formflow"]).upgrade_state("crm_sfa") is None
