"""The dashboard designer: a widget previewed on live rows is saved only on Save, and the
grid's arrangement is written on Save, once, or refused whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.designer import Designer
from formflow.designer.arrangement import arrangement_of
from formflow.designer.documents import Document
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


def saved_order(text: str) -> list[tuple[str, int]]:
    document = Document(BOARD_FILE, text)
    return [(p.key, p.width) for p in arrangement_of(document)]


def grid_form(admin: FlaskClient, order: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    return {
        "csrf_token": csrf_token(admin, BOARD),
        "revision": 1,
        "key": [key for key, _width in order],
        "width": [str(width) for _key, width in order],
        **extra,
    }


def test_the_grid_shows_every_widget_in_order_with_its_columns(login: Login, app: Flask) -> None:
    page = login("admin").get(BOARD).get_data(as_text=True)
    grid = page.split('id="widget-grid"')[1].split("</form>")[0]
    keys = [part.split('"')[0] for part in grid.split('data-widget="')[1:]]
    assert [(key, width) for key, width in saved_order(draft_text(app))] == [
        (key, int(grid.split(f'data-widget="{key}"')[0].rsplit("span-", 1)[1][0])) for key in keys
    ]


def test_saving_the_grid_writes_the_new_order_and_width_only(login: Login, app: Flask) -> None:
    admin = login("admin")
    before = draft_text(app)
    order = saved_order(before)
    order.insert(0, ("pipeline", 4))
    order.pop([key for key, _width in order].index("pipeline", 1))
    response = admin.post(f"{BOARD}/arrange", data=grid_form(admin, order, save="1"))
    assert response.status_code == 302
    after = draft_text(app)
    assert saved_order(after) == order
    assert sorted(after.splitlines()) == sorted(
        before.replace("    width: 2\n  # Open", "    width: 4\n  # Open").splitlines()
    )


def test_an_arrow_without_javascript_shows_the_move_and_saves_nothing(
    login: Login, app: Flask
) -> None:
    admin = login("admin")
    before = draft_text(app)
    order = saved_order(before)
    moved = admin.post(f"{BOARD}/arrange", data=grid_form(admin, order, move="down:revenue_month"))
    assert "arrangement=revenue_quarter" in moved.location
    page = admin.get(moved.location).get_data(as_text=True)
    assert 'id="grid-pending"' in page
    assert page.index('data-widget="revenue_quarter"') < page.index('data-widget="revenue_month"')
    assert draft_text(app) == before


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda order: [*order, ("nope", 1)], "there is no widget"),
        (lambda order: [(key, 7) for key, _width in order], "a width is 1 to 4"),
        (lambda order: [*order, order[0]], "listed 2 times"),
        (lambda order: order[1:], "missing from the arrangement"),
    ],
)
def test_a_hostile_arrangement_is_refused_and_writes_nothing(
    login: Login, app: Flask, change: Any, problem: str
) -> None:
    admin = login("admin")
    before = draft_text(app)
    form = grid_form(admin, change(saved_order(before)), save="1")
    page = admin.post(f"{BOARD}/arrange", data=form, follow_redirects=True)
    assert page.status_code == 200
    assert problem in page.get_data(as_text=True)
    assert draft_text(app) == before


@pytest.mark.parametrize("width", ["9" * 400, "²", "１", "-1", " ", "1.5"])
def test_a_width_that_is_not_a_number_is_refused(login: Login, app: Flask, width: str) -> None:
    admin = login("admin")
    before = draft_text(app)
    form = grid_form(admin, saved_order(before), save="1")
    form["width"][0] = width
    page = admin.post(f"{BOARD}/arrange", data=form, follow_redirects=True)
    assert "is not a width" in page.get_data(as_text=True)
    assert draft_text(app) == before


def test_a_hostile_arrangement_in_the_address_shows_the_saved_one(login: Login) -> None:
    admin = login("admin")
    for arrangement in ("nope:2", "revenue_month:99999999999999", ":::", "a" * 5000, "x:²"):
        page = admin.get(BOARD, query_string={"arrangement": arrangement})
        assert page.status_code == 200
        assert 'id="grid-pending"' not in page.get_data(as_text=True)


def test_a_composed_widget_opens_again_in_the_composer(login: Login) -> None:
    admin = login("admin")
    admin.post(
        f"{BOARD}/save", data={**FUNNEL, "revision": 1, "csrf_token": csrf_token(admin, BOARD)}
    )
    grid = admin.get(BOARD).get_data(as_text=True).split('id="widget-grid"')[1]
    card = grid.split('data-widget="deal_funnel"')[1].split("</li>")[0]
    edit = card.split('href="')[1].split('"')[0].replace("&amp;", "&")
    composer = admin.get(edit).get_data(as_text=True)
    assert (
        'id="w_key" name="key" required pattern="[a-z][a-z0-9_]*" value="deal_funnel"' in composer
    )
    assert 'id="w_dimension" name="dimension" value="stage"' in composer
    assert 'id="widget-preview"' in composer
