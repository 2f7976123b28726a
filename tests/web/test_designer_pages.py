"""The form designer pages: an admin changes the customer form, and staff see it published."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.records.access import Actor
from web.conftest import csrf_token
from web.visible_text import english_phrases, visible_text

Login = Callable[[str], FlaskClient]
DESIGNER = "/admin/designer/crm_sfa/forms/customer"


def post(client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, DESIGNER)})


def revision(app: Flask) -> int:
    from formflow.designer import Designer

    return (
        Designer(app.extensions["formflow"]).draft("crm_sfa").files["forms/customer.yaml"].revision
    )


def add_tier(client: FlaskClient, app: Flask) -> Any:
    return post(
        client,
        f"{DESIGNER}/change",
        {
            "revision": revision(app),
            "action": "add",
            "new_key": "tier",
            "new_type": "select",
            "new_label_zh": "客户等级",
            "new_label_en": "Tier",
            "new_options": "gold\nsilver",
            "new_required": "1",
            "new_default": "silver",
        },
    )


def test_only_administrators_reach_the_designer(login: Login) -> None:
    assert login("rep1").get("/admin/designer/").status_code == 403


def test_the_designer_shows_fields_preview_and_yaml(login: Login) -> None:
    page = login("admin").get(DESIGNER).get_data(as_text=True)
    assert 'data-key="industry"' in page
    assert 'data-preview="phone"' in page
    assert 'data-preview="desktop"' in page
    assert "title_field: name" in page


def test_the_field_types_to_add_are_named_in_the_admins_language(login: Login) -> None:
    """The choice of a new field's type listed bare keys (``money``, ``bool``) to people
    working in Chinese; the key stays the value sent."""
    page = login("admin").get(DESIGNER).get_data(as_text=True)
    assert '<option value="money">金额</option>' in page
    assert '<option value="bool">是/否</option>' in page


def test_an_added_required_select_reaches_staff_after_publishing(login: Login, app: Flask) -> None:
    instance = app.extensions["formflow"]
    kept = instance.records("crm_sfa").create(Actor.system(), "customer", {"name": "老客户"})
    admin = login("admin")
    add_tier(admin, app)
    publish = admin.get("/admin/designer/crm_sfa/publish").get_data(as_text=True)
    assert "Tier" in publish or "客户等级" in publish
    post(admin, "/admin/designer/crm_sfa/publish", {"comment": "tiers"})
    instance.forget("crm_sfa")
    form = instance.app("crm_sfa").forms["customer"]
    assert form.field("tier").required
    rows = instance.records("crm_sfa").find(Actor.system(), "customer").rows
    assert [row["tier"] for row in rows if row["id"] == kept["id"]] == ["silver"]


def test_a_stale_yaml_save_is_a_conflict_showing_the_diff(login: Login, app: Flask) -> None:
    admin = login("admin")
    stale = revision(app)
    add_tier(admin, app)
    answer = post(admin, f"{DESIGNER}/yaml", {"revision": stale, "yaml": "key: customer\n"})
    assert answer.status_code == 409
    assert "+++ forms/customer.yaml (yours)" in answer.get_data(as_text=True)


def test_a_rename_from_a_stale_page_is_a_conflict_and_renames_nothing(
    login: Login, app: Flask
) -> None:
    admin = login("admin")
    stale = revision(app)
    add_tier(admin, app)  # another tab changed the form meanwhile
    answer = post(
        admin,
        f"{DESIGNER}/change",
        {"revision": stale, "action": "rename", "key": "industry", "new_key": "sector"},
    )
    assert answer.status_code == 409
    assert 'id="designer-conflict"' in answer.get_data(as_text=True)
    assert "key: sector" not in admin.get(DESIGNER).get_data(as_text=True)


def test_yaml_that_does_not_parse_is_kept_with_its_place(login: Login, app: Flask) -> None:
    admin = login("admin")
    post(
        admin, f"{DESIGNER}/yaml", {"revision": revision(app), "yaml": "key: customer\nfields: [\n"}
    )
    page = admin.get(DESIGNER).get_data(as_text=True)
    assert "forms/customer.yaml:3:1" in page
    assert "fields: [" in page


def test_an_exported_zip_imports_back_as_the_draft(login: Login) -> None:
    admin = login("admin")
    exported = admin.get("/admin/designer/crm_sfa/export")
    assert exported.mimetype == "application/zip"
    answer = admin.post(
        "/admin/designer/crm_sfa/import",
        data={
            "bundle": (io.BytesIO(exported.data), "crm_sfa.zip"),
            "csrf_token": csrf_token(admin, DESIGNER),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "草稿" in answer.get_data(as_text=True) or "draft" in answer.get_data(as_text=True)


def test_a_hostile_zip_is_refused_with_the_reason(login: Login) -> None:
    admin = login("admin")
    answer = admin.post(
        "/admin/designer/crm_sfa/import",
        data={
            "bundle": (io.BytesIO(b"not a zip"), "evil.zip"),
            "csrf_token": csrf_token(admin, DESIGNER),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "the file is not a zip" in answer.get_data(as_text=True)


def test_the_workflow_designer_draws_the_flow_and_relabels_a_node(login: Login) -> None:
    admin = login("admin")
    flow = "/admin/designer/crm_sfa/workflows/contract_approval"
    page = admin.get(flow).get_data(as_text=True)
    assert 'data-node="by_amount"' in page
    assert 'data-branch="2"' in page
    admin.post(
        f"{flow}/label",
        data={
            "node": "director",
            "revision": 1,
            "label_en": "Sales VP",
            "csrf_token": csrf_token(admin, flow),
        },
    )
    assert 'value="Sales VP"' in admin.get(flow).get_data(as_text=True)


def test_a_published_field_cannot_be_removed_only_hidden(login: Login, app: Flask) -> None:
    admin = login("admin")
    answer = post(
        admin,
        f"{DESIGNER}/change",
        {"revision": revision(app), "action": "remove", "key": "industry", "confirm": "1"},
    )
    assert answer.status_code == 400
    assert 'data-key="industry"' in admin.get(DESIGNER).get_data(as_text=True)


def test_a_field_added_in_the_draft_can_be_removed(login: Login, app: Flask) -> None:
    admin = login("admin")
    add_tier(admin, app)
    post(
        admin,
        f"{DESIGNER}/change",
        {"revision": revision(app), "action": "remove", "key": "tier", "confirm": "1"},
    )
    assert 'data-key="tier"' not in admin.get(DESIGNER).get_data(as_text=True)


def test_the_yaml_tab_is_checked_as_it_is_typed_without_saving(login: Login, app: Flask) -> None:
    admin = login("admin")
    before = revision(app)
    answer = post(admin, f"{DESIGNER}/check", {"yaml": "key: customer\nfields: [\n"})
    assert "forms/customer.yaml:" in answer.get_data(as_text=True)
    assert revision(app) == before


def designer_addresses(app: Flask) -> list[tuple[str, str]]:
    """Every designer route with a method, its parts filled with the CRM app's names, so a
    route added later is covered by itself."""
    filled = {"app_key": "crm_sfa", "form_key": "customer", "workflow_key": "contract_approval"}
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("designer."):
            continue
        address = re.sub(
            r"<(?:(\w+):)?(\w+)>",
            lambda part: "1" if part[1] == "int" else filled.get(part[2], "sales_overview"),
            rule.rule,
        )
        found += [(method, address) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


@pytest.mark.parametrize("username", ["rep1", "manager"])
def test_no_designer_page_or_step_answers_anyone_but_an_administrator(
    login: Login, app: Flask, username: str
) -> None:
    """Reading a draft, changing it, publishing, importing, undoing: every route, with and
    without a CSRF token, is refused before it does anything."""
    client = login(username)
    token = csrf_token(client, "/")
    before = revision(app)
    answers = {
        (method, address, with_token): client.open(
            address, method=method, data={"csrf_token": token} if with_token else {}
        ).status_code
        for method, address in designer_addresses(app)
        for with_token in (False, True)
    }
    assert len(answers) > 40
    refused = {400, 403}  # 400: a post without its token stops at the CSRF check
    assert {key: code for key, code in answers.items() if code not in refused} == {}
    assert {key: code for key, code in answers.items() if key[2] and code != 403} == {}
    assert revision(app) == before


def test_every_designer_page_is_in_chinese_but_the_definitions_own_text(
    login: Login, app: Flask
) -> None:
    """The app's YAML (the YAML tab, and the English labels and comments it holds) is the
    admin's data; everything the designer itself says is Chinese. The upgrade page names
    the command that does the same on the server."""
    admin = login("admin")
    with admin.session_transaction() as session:
        session["language"] = "zh"
    pages = {"/admin/designer/": "", "/admin/designer/crm_sfa/publish": "", DESIGNER: ""}
    pages[f"{DESIGNER}?field=industry"] = ""
    while unread := [page for page, text in pages.items() if not text]:  # and their links
        for page in unread:
            answer = admin.get(page)
            assert answer.status_code == 200, page
            pages[page] = answer.text if answer.mimetype == "text/html" else "zip"
            for found in re.findall(r'href="(/admin/designer/crm_sfa/[^"?#]+)"', pages[page]):
                pages.setdefault(found, "")
    command = frozenset({"formflow", "upgrade", "crm", "sfa", "from", "folder"})
    english = {}
    for page, text in pages.items():
        shown = re.sub(r"(?s)<textarea.*?</textarea>|<pre.*?</pre>|<code.*?</code>", "", text)
        if phrases := english_phrases(visible_text(shown), command):
            english[page] = phrases
    assert len(pages) > 20
    assert english == {}
