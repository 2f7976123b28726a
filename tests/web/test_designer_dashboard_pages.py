"""The dashboard designer: a widget previewed on live rows is saved only on Save."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient

from formflow.designer import Designer
from formflow.records.access import Actor
from web.conftest import csrf_token

Login = Callable[[str], FlaskClient]
BOARD = "/admin/designer/crm_sfa/dashboards/sales_overview"
BOARD_FILE = "dashboards/sales_overview.yaml"
FUNNEL = {
    "key": "deal_funnel",
    "kind": "funnel",
    "form": "opportunity",
    "label_zh": "商机漏斗",
    "label_en": "Deal funnel",
    "operation": "count",
    "dimension": "stage",
    "filters": "",
    "width": "2",
}


def draft_text(app: Flask) -> str:
    return Designer(app.extensions["formflow"]).draft("crm_sfa").files[BOARD_FILE].text


def test_a_preview_counts_live_rows_and_saves_nothing(login: Login, app: Flask) -> None:
    records = app.extensions["formflow"].records("crm_sfa")
    customer = records.create(Actor.system(), "customer", {"name": "漏斗客户"})
    for stage in ("proposal", "proposal", "won"):
        records.create(
            Actor.system(),
            "opportunity",
            {
                "name": f"商机 {stage}",
                "customer": customer["id"],
                "stage": stage,
                "amount": 100,
                "owner": 1,
                "expected_close_date": "2026-12-31",
            },
        )
    admin = login("admin")
    before = draft_text(app)
    page = admin.get(f"{BOARD}?preview=1&{urlencode(FUNNEL)}").get_data(as_text=True)
    assert 'id="widget-preview"' in page
    assert 'class="records preview-figures"' in page
    figures = page.split('class="records preview-figures"')[1].split("</table>")[0]
    assert '<td class="number">2</td>' in figures  # two in proposal
    assert draft_text(app) == before
    admin.post(
        f"{BOARD}/save",
        data={**FUNNEL, "revision": 1, "csrf_token": csrf_token(admin, BOARD)},
    )
    saved = draft_text(app)
    assert "  - key: deal_funnel\n    type: funnel\n" in saved
    assert "group_by: stage" in saved
    assert saved.startswith(before.rstrip("\n")[:200])


def test_a_widget_on_an_unknown_field_names_the_problem(login: Login) -> None:
    page = (
        login("admin")
        .get(f"{BOARD}?preview=1&{urlencode({**FUNNEL, 'dimension': 'no_such_field'})}")
        .get_data(as_text=True)
    )
    assert 'id="designer-errors"' in page
    assert BOARD_FILE in page
