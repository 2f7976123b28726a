"""The upgrade page: an admin answers a new release's conflict, and the live app waits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from formflow.designer import Designer
from formflow.designer.merge import CONFLICT
from formflow.designer.operations import ConfigureField
from formflow.storage.versions import read_app_files
from support import CRM_APP
from web.conftest import csrf_token

Login = Callable[[str], FlaskClient]
PAGE = "/admin/designer/crm_sfa/upgrade"
CUSTOMER = "forms/customer.yaml"
SHIPPED = "    label: {zh: 所属行业, en: Industry}\n"


def upgraded(app: Flask) -> Designer:
    """The admin relabelled the industry field; release 9.9 relabels it differently."""
    designer = Designer(app.extensions["formflow"])
    revision = designer.draft("crm_sfa").files[CUSTOMER].revision
    ours = ConfigureField("industry", "label", {"zh": "行业", "en": "Sector"})
    designer.apply("crm_sfa", CUSTOMER, revision, [ours], user_id=None)
    designer.publish("crm_sfa", None, "admin", "our label")
    release = read_app_files(CRM_APP)
    release[CUSTOMER] = release[CUSTOMER].replace(
        SHIPPED, "    label: {zh: 行业类别, en: Line of business}\n"
    )
    release["app.yaml"] = release["app.yaml"].replace('version: "1.0.0"', 'version: "9.9.0"')
    designer.upgrade("crm_sfa", release, None)
    return designer


def post(client: FlaskClient, data: dict[str, Any]) -> Any:
    return client.post(PAGE, data={**data, "csrf_token": csrf_token(client, PAGE)})


def test_the_page_lists_the_conflict_with_the_three_values_and_its_buttons(
    login: Login, app: Flask
) -> None:
    upgraded(app)
    page = login("admin").get(PAGE).get_data(as_text=True)
    assert "fields/industry/label" in page
    for value in ("Industry", "Line of business", "Sector"):
        assert value in page
    assert 'name="choice" value="theirs"' in page


def test_taking_the_release_s_value_writes_the_draft_and_not_the_live_app(
    login: Login, app: Flask
) -> None:
    designer = upgraded(app)
    [conflict] = [
        issue for issue in designer.upgrade_state("crm_sfa").issues if issue.kind == CONFLICT
    ]  # type: ignore[union-attr]
    answer = post(login("admin"), {"issue": conflict.id, "choice": "theirs"})
    assert answer.status_code == 302
    assert "en: Line of business}" in designer.draft("crm_sfa").files[CUSTOMER].text
    live = app.extensions["formflow"].app("crm_sfa").forms["customer"].field("industry")
    assert live.label.en == "Sector"


def test_a_wrong_answer_is_a_message_not_an_error(login: Login, app: Flask) -> None:
    upgraded(app)
    admin = login("admin")
    answer = post(admin, {"issue": "conflict:x", "choice": "nonsense"})
    assert answer.status_code == 302
    page = admin.get(PAGE).get_data(as_text=True)
    assert "the upgrade has no issue" in page


def test_without_an_upgrade_the_page_says_how_to_start_one(login: Login) -> None:
    page = login("admin").get(PAGE).get_data(as_text=True)
    assert "formflow upgrade crm_sfa --from" in page
