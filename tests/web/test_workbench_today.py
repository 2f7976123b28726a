"""A rep's day: the workbench shows what is due today first (the forms' agenda items and the
approvals waiting), ``GET /api/v1/agenda`` says the same, the navigation follows the app's
``menu``, and lists declare compact cards for phones."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient

from formflow.web.agenda_view import due_in_words
from web.test_api import Api, token_for
from web.test_api_notifications import submitted_contract

Login = Callable[[str], FlaskClient]
CUSTOMERS = "/api/v1/crm_sfa/customer/records"


def overdue_customer(app: Flask, name: str = "华东机械") -> int:
    """rep1's customer whose last follow-up set the next one for yesterday."""
    rep = Api(app.test_client(), token_for(app, "rep1"))
    customer = rep.post(CUSTOMERS, json={"name": name}).json
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    follow_up = rep.post(
        "/api/v1/crm_sfa/follow_up/records",
        json={"customer": customer["id"], "content": "电话沟通", "next_follow_up": yesterday},
    )
    assert follow_up.status_code == 201, follow_up.json
    return int(customer["id"])


def english(client: FlaskClient) -> FlaskClient:
    with client.session_transaction() as session:
        session["language"] = "en"
    return client


def today_section(page: str) -> str:
    return page.split('class="card today"', 1)[1].split("</section>", 1)[0]


def test_the_workbench_shows_overdue_follow_ups_first_linking_to_the_record(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    customer_id = overdue_customer(app)
    login("rep1")
    page = english(client).get("/").text
    assert page.index('class="card today"') < page.index("Recently changed by me")
    today = today_section(page)
    assert f'href="/crm_sfa/customer/{customer_id}"' in today
    assert "Follow-up due" in today
    assert "华东机械" in today
    assert 'class="today-item overdue"' in today
    assert re.search(r"today-when\">\d+ days? overdue<", today)


def test_due_days_are_said_in_words_near_today_in_either_language(app: Flask) -> None:
    today = date(2026, 12, 4)
    said = {}
    for language in ("en", "zh"):
        with app.test_request_context(headers={"Accept-Language": language}):
            said[language] = [
                due_in_words(today + timedelta(days=days), today) for days in (-3, -1, 0, 1, 5)
            ]
    assert said == {
        "en": [
            "3 days overdue",
            "1 day overdue",
            "Due today",
            "Due tomorrow",
            "Due 2026-12-09",
        ],
        "zh": ["逾期 3 天", "逾期 1 天", "今天到期", "明天到期", "2026-12-09 到期"],
    }


def test_nothing_due_says_so_and_others_agenda_stays_theirs(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    overdue_customer(app)
    login("rep2")
    today = today_section(english(client).get("/").text)
    assert "Nothing due today." in today
    assert "华东机械" not in today


def test_approvals_waiting_show_on_the_approvers_today(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    record_id = submitted_contract(app, client)
    login("admin")
    today = today_section(client.get("/").text)
    assert f'href="/crm_sfa/contract/{record_id}#approval"' in today
    assert 'data-kind="approval"' in today


def test_the_agenda_api_gives_due_records_and_approvals(app: Flask, client: FlaskClient) -> None:
    customer_id = overdue_customer(app)
    rep = Api(client, token_for(app, "rep1"))
    found = rep.get("/api/v1/agenda")
    assert found.status_code == 200, found.json
    (entry,) = found.json["data"]
    assert entry["app"] == "crm_sfa"
    assert (entry["form"], entry["record_id"], entry["item"]) == (
        "customer",
        customer_id,
        "follow_up_due",
    )
    assert entry["overdue"] is True
    assert entry["title"] == "华东机械"
    assert found.json["approvals"] == []
    contract = submitted_contract(app, client)
    admin = Api(client, token_for(app, "admin"))
    (waiting,) = admin.get("/api/v1/agenda?app=crm_sfa&limit=5").json["approvals"]
    assert (waiting["form"], waiting["record_id"]) == ("contract", contract)


def test_the_agenda_api_refuses_unknown_parameters_in_its_error_shape(
    app: Flask, client: FlaskClient
) -> None:
    rep = Api(client, token_for(app, "rep1"))
    for query in ("?limit=0", "?app=nope", "?when=today"):
        refused = rep.get(f"/api/v1/agenda{query}")
        assert refused.status_code == 400, query
        assert refused.json["error"]["code"] == "invalid_query"


def test_the_agenda_is_in_the_openapi_document(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    assert "get" in document["paths"]["/agenda"]
    assert "Agenda" in document["components"]["schemas"]


def test_the_navigation_follows_the_apps_menu(client: FlaskClient, login: Login) -> None:
    login("rep1")
    page = english(client).get("/").text
    nav = page.split('id="nav"', 1)[1].split("</nav>", 1)[0]
    links = re.findall(r'href="/crm_sfa/(\w+)/"', nav)
    assert links[:3] == ["customer", "follow_up", "opportunity"]
    assert links[-1] == "sales_target"
    assert nav.index("Sales") < nav.index("Administration")


def test_a_list_with_a_card_renders_compact_cards_beside_its_table(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    customer_id = overdue_customer(app)
    login("rep1")
    page = english(client).get("/crm_sfa/customer/").text
    cards = page.split('<ul class="record-cards">', 1)[1].split("</ul>", 1)[0]
    assert f'class="card-title" href="/crm_sfa/customer/{customer_id}"' in cards
    assert "华东机械" in cards
    assert 'title="Status"' in cards  # a badge, labelled
    assert 'class="records has-cards"' in page
