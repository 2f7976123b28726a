"""List pages: columns, filters, search, sort, keyset pages, saved views, query counts."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import event

from formflow import accounts
from formflow.records.query import Page
from formflow.storage.database import read_transaction
from formflow.web.context import WebUser
from formflow.web.records import _list_url
from formflow.web.targets import record_urls, target
from web import records_support
from web.records_support import add, send, service

# Fixtures from the shared module, used by name.
sign_in = records_support.sign_in
warm_caches = records_support.warm_caches
pytestmark = pytest.mark.usefixtures("warm_caches")

LIST = "/crm_sfa/customer/"
Login = Callable[[str], FlaskClient]


def names(page: str) -> list[str]:
    """The record titles a list page shows, in order."""
    return re.findall(r'<a href="/crm_sfa/customer/\d+">([^<]*)</a>', page)


def test_the_list_shows_the_definition_columns_and_only_own_records(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    add(app, "rep1", "customer", name="Mine Ltd", level="A")
    add(app, "rep2", "customer", name="Theirs Ltd", level="A")
    sign_in("rep1")
    page = client.get(LIST)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert names(page.text) == ["Mine Ltd"]
    for label in ("Customer name", "Level", "Status", "Owner"):
        assert f">{label}" in page.text
    assert 'data-label="Level"' in page.text
    assert "A (key account)" in page.text  # the option's label, not its value
    assert "1 record" in page.text


def test_filters_search_and_sort(app: Flask, client: FlaskClient, sign_in: Login) -> None:
    add(app, "rep1", "customer", name="Alpha Tech", level="A")
    add(app, "rep1", "customer", name="Beta Trading", level="B")
    add(app, "rep1", "customer", name="Gamma Tech", level="B")
    sign_in("rep1")
    assert names(client.get(LIST, query_string={"f.level": "B"}).text) == [
        "Gamma Tech",
        "Beta Trading",
    ]
    assert sorted(names(client.get(LIST, query_string={"q": "tech"}).text)) == [
        "Alpha Tech",
        "Gamma Tech",
    ]
    assert names(client.get(LIST, query_string={"sort": "name"}).text) == [
        "Alpha Tech",
        "Beta Trading",
        "Gamma Tech",
    ]
    assert names(client.get(LIST, query_string={"sort": "-name"}).text)[0] == "Gamma Tech"
    assert len(names(client.get(LIST, query_string={"f.in_pool": "no"}).text)) == 3
    assert names(client.get(LIST, query_string={"f.in_pool": "yes"}).text) == []
    both = client.get(LIST, query_string={"f.level": "B", "q": "tech"})
    assert names(both.text) == ["Gamma Tech"]


def test_date_ranges_and_link_filters(app: Flask, client: FlaskClient, sign_in: Login) -> None:
    acme = add(app, "rep1", "customer", name="Acme")
    other = add(app, "rep1", "customer", name="Other Co")
    for name, customer, close in (
        ("March deal", acme, "2026-03-01"),
        ("May deal", acme, "2026-05-01"),
        ("Other deal", other, "2026-05-02"),
    ):
        add(
            app,
            "rep1",
            "opportunity",
            name=name,
            customer=customer["id"],
            amount="1000",
            expected_close_date=close,
        )
    sign_in("rep1")

    def shown(**query: str) -> list[str]:
        page = client.get("/crm_sfa/opportunity/", query_string=query).text
        return sorted(re.findall(r'<a href="/crm_sfa/opportunity/\d+">([^<]*)</a>', page))

    in_range = {
        "f.expected_close_date.from": "2026-04-01",
        "f.expected_close_date.to": "2026-05-01",
    }
    assert shown(**in_range) == ["May deal"]
    assert shown(**{"f.customer": "acm"}) == ["March deal", "May deal"]
    assert shown(**{"f.customer": str(other["id"])}) == ["Other deal"]
    page = client.get("/crm_sfa/opportunity/", query_string={"f.customer": str(other["id"])})
    assert "Other Co" in page.text  # the id filter names the record it stands for

    # Any link may be followed by id, as a detail page's "open the list" link does, even
    # one the list does not offer as a filter.
    contact = add(app, "rep1", "contact", name="Wang", customer=acme["id"])
    add(
        app,
        "rep1",
        "opportunity",
        name="Via Wang",
        customer=acme["id"],
        contact=contact["id"],
        amount="1",
        expected_close_date="2026-07-01",
    )
    assert "contact" not in service(app).app.form("opportunity").list_view.filters
    assert shown(**{"f.contact": str(contact["id"])}) == ["Via Wang"]


def test_sorting_is_offered_only_on_sortable_columns_and_unknown_sorts_are_ignored(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    add(app, "rep1", "customer", name="Alpha")
    sign_in("rep1")
    page = client.get(LIST, query_string={"sort": "remark"}).text  # textarea: not sortable
    assert 'href="/crm_sfa/customer/?sort=name"' in page
    assert names(page) == ["Alpha"]


def test_a_filter_value_that_does_not_fit_is_reported_not_a_crash(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    add(app, "rep1", "customer", name="Alpha", level="A")
    sign_in("rep1")
    page = client.get(
        "/crm_sfa/opportunity/", query_string={"f.expected_close_date.from": "next tuesday"}
    )
    assert page.status_code == 200
    assert "does not fit this filter" in page.text
    wrong_option = client.get(LIST, query_string={"f.level": "Z", "q": "alpha"})
    assert "does not fit this filter" in wrong_option.text
    assert names(wrong_option.text) == ["Alpha"]


@pytest.mark.parametrize("value", ["٣", "²", str(2**70), "9223372036854775808"])
def test_a_user_or_link_filter_that_is_no_id_is_reported_not_a_crash(
    client: FlaskClient, sign_in: Login, value: str
) -> None:
    sign_in("rep1")
    page = client.get("/crm_sfa/contact/", query_string={"f.owner": value, "f.customer": value})
    assert page.status_code == 200
    assert "does not fit this filter" in page.text


@pytest.mark.parametrize("record_id", ["٣", "0", str(2**70), "9223372036854775808"])
def test_an_address_with_an_id_no_record_can_have_is_not_found(
    client: FlaskClient, sign_in: Login, record_id: str
) -> None:
    sign_in("rep1")
    assert client.get(f"/crm_sfa/customer/{record_id}").status_code == 404
    assert client.get(f"/crm_sfa/customer/{record_id}/edit").status_code == 404


def test_a_changed_filter_returns_only_the_results_for_htmx(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    add(app, "rep1", "customer", name="Alpha", level="A")
    sign_in("rep1")
    full = client.get(LIST)
    assert 'hx-get="/crm_sfa/customer/"' in full.text
    assert 'hx-push-url="true"' in full.text
    assert 'hx-target="#results"' in full.text
    part = client.get(
        LIST, query_string={"f.level": "A"}, headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert part.text.lstrip().startswith('<div id="results"')
    assert "<html" not in part.text
    assert names(part.text) == ["Alpha"]
    assert "HX-Request" in part.headers["Vary"]


def test_keyset_pages_with_next_and_first_links(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    for number in range(25):
        add(app, "rep1", "customer", name=f"Company {number:02d}")
    sign_in("rep1")
    first = client.get(LIST, query_string={"sort": "name"})
    assert names(first.text) == [f"Company {n:02d}" for n in range(20)]
    assert "25 records" in first.text
    assert "First page" not in first.text
    next_link = re.search(r'href="([^"]*cursor=[^"]*)"[^>]*rel="next"', first.text)
    assert next_link is not None
    second = client.get(next_link.group(1).replace("&amp;", "&"))
    assert names(second.text) == [f"Company {n:02d}" for n in range(20, 25)]
    assert "First page" in second.text
    assert 'rel="next"' not in second.text


def test_a_damaged_cursor_says_so(app: Flask, client: FlaskClient, sign_in: Login) -> None:
    sign_in("rep1")
    page = client.get(LIST, query_string={"cursor": "not-a-cursor"})
    assert page.status_code == 200
    assert "could not be shown" in page.text


def test_a_capped_total_shows_a_plus(app: Flask) -> None:
    from formflow.web.records import _total

    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert _total(Page([], 10_000, True, None)) == "10,000+ records"
        assert _total(Page([], 1234, False, None)) == "1,234 records"


def test_saved_views_belong_to_their_user(app: Flask, client: FlaskClient, sign_in: Login) -> None:
    add(app, "rep1", "customer", name="Alpha", level="A")
    add(app, "rep1", "customer", name="Beta", level="B")
    sign_in("rep1")
    saved = send(
        client,
        "/crm_sfa/customer/views",
        {"name": "Key accounts", "f.level": "A", "sort": "name"},
    )
    assert saved.status_code == 302
    page = client.get(LIST).text
    link = re.search(r'<a href="([^"]+)">Key accounts</a>', page)
    assert link is not None
    assert names(client.get(link.group(1).replace("&amp;", "&")).text) == ["Alpha"]
    view_id = re.search(r"/views/(\d+)/delete", page)
    assert view_id is not None

    client.post("/logout", data={"csrf_token": csrf(client)})
    sign_in("rep2")
    assert "Key accounts" not in client.get(LIST).text
    send(client, f"/crm_sfa/customer/views/{view_id.group(1)}/delete")
    client.post("/logout", data={"csrf_token": csrf(client)})
    sign_in("rep1")
    assert "Key accounts" in client.get(LIST).text  # rep2 could not delete it
    send(client, f"/crm_sfa/customer/views/{view_id.group(1)}/delete")
    assert "Key accounts" not in client.get(LIST).text


def csrf(client: FlaskClient) -> str:
    from web.conftest import csrf_token

    return csrf_token(client, "/")


@contextmanager
def recorded(app: Flask, event_name: str) -> Iterator[list[tuple[object, ...]]]:
    """The arguments of every ``event_name`` event the instance's engine fires in the block."""
    seen: list[tuple[object, ...]] = []
    engine = app.extensions["formflow"].engine

    def record(*args: object) -> None:
        seen.append(args)

    event.listen(engine, event_name, record)
    try:
        yield seen
    finally:
        event.remove(engine, event_name, record)


def test_the_list_costs_the_same_number_of_statements_for_3_or_60_records(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    sign_in("rep1")
    customers = [add(app, "rep1", "customer", name=f"C{n}", level="A") for n in range(3)]
    for customer in customers:
        add(app, "rep1", "contact", name="Zhang", customer=customer["id"])
    client.get("/crm_sfa/contact/")  # warm up: compiled app, cached app keys
    app.extensions["formflow"].version_check_seconds = math.inf  # however slow the machine
    with recorded(app, "before_cursor_execute") as few:
        assert client.get("/crm_sfa/contact/").status_code == 200
    assert few
    more = [add(app, "rep1", "customer", name=f"D{n}", level="B") for n in range(57)]
    for customer in more:
        add(app, "rep1", "contact", name="Li", customer=customer["id"])
    with recorded(app, "before_cursor_execute") as many:
        page = client.get("/crm_sfa/contact/")
    assert "60 records" in page.text
    assert len(many) == len(few), (few, many)


@pytest.mark.parametrize("page", ["list", "record"])
def test_a_page_reads_in_one_transaction(
    app: Flask, client: FlaskClient, sign_in: Login, page: str
) -> None:
    customer = add(app, "rep1", "customer", name="Acme", level="A")
    add(app, "rep1", "contact", name="Zhang", customer=customer["id"])
    sign_in("rep1")
    path = LIST if page == "list" else f"{LIST}{customer['id']}"
    client.get(path)  # warm up: compiled app, cached app keys
    with recorded(app, "begin") as started:
        assert client.get(path).status_code == 200
    assert len(started) == 1


def test_the_record_address_is_the_list_address_and_the_id(app: Flask) -> None:
    with app.test_request_context():
        record_url = record_urls("crm_sfa")
        assert record_url("contact", 42) == url_for(
            "records.detail", app_key="crm_sfa", form_key="contact", record_id=42
        )


def test_list_addresses_are_encoded_as_url_for_encodes_them(app: Flask) -> None:
    params = {"q": "华东 a&b=c/d,e", "sort": "-name", "f.level": "A", "cursor": "x+y!'()*"}
    with app.test_request_context():
        with read_transaction(app.extensions["formflow"].engine) as connection:
            user = accounts.find_user(connection, "rep1")
            assert user is not None
            identity = accounts.load_identity(connection, user.id)
        assert identity is not None
        login_user(WebUser(identity, "token", 1))
        t = target("crm_sfa", "customer")
        where = {"app_key": "crm_sfa", "form_key": "customer"}
        assert _list_url(t, params) == url_for("records.index", **where, **params)
        assert _list_url(t, {}) == url_for("records.index", **where)


def test_the_list_reads_only_the_columns_it_shows(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    sign_in("rep1")
    add(app, "rep1", "customer", name="Acme", level="A", website="https://acme.example")
    client.get("/crm_sfa/customer/")  # warm up: compiled app, cached app keys
    app.extensions["formflow"].version_check_seconds = math.inf
    with recorded(app, "before_cursor_execute") as seen:
        assert client.get("/crm_sfa/customer/").status_code == 200
    texts = [str(args[2]) for args in seen]
    page = next(text for text in texts if "crm_sfa__customer" in text and "LIMIT" in text)
    selected = page.split(" FROM ", 1)[0]
    assert "industry" in selected
    assert "website" not in selected
    assert "remark" not in selected


def headings(page: str) -> list[str]:
    """The list table's column headings, in order (not the selection boxes')."""
    head = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    head = re.sub(r'<th[^>]*><span class="sr-only">[^<]*</span></th>', "", head)
    return [
        re.sub(r"<[^>]+>|[▲▼]", "", cell).strip()
        for cell in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)
    ]


def test_a_person_chooses_the_columns_and_their_order(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    add(app, "rep1", "customer", name="Acme", level="A", website="https://acme.example")
    sign_in("rep1")
    page = client.get(LIST, query_string={"columns": "website,name,created_at"}).text
    assert headings(page) == ["Website", "Customer name", "Created"]
    assert "https://acme.example" in page
    assert names(page) == ["Acme"]  # the title column still opens the record


def test_the_column_chooser_ticks_the_shown_columns_first(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    sign_in("rep1")
    page = client.get(LIST, query_string={"columns": "website,name"}).text
    chooser = page.split('class="column-chooser"', 1)[1].split("</details>", 1)[0]
    boxes = re.findall(r'name="columns" value="([^"]+)"( checked)?', chooser)
    assert boxes[:2] == [("website", " checked"), ("name", " checked")]
    assert ("level", "") in boxes
    assert all(key not in {"contacts", "attachments"} for key, _ in boxes)


def test_ticked_boxes_become_the_columns(app: Flask, client: FlaskClient, sign_in: Login) -> None:
    add(app, "rep1", "customer", name="Acme", level="A")
    sign_in("rep1")
    page = client.get(LIST + "?columns=level&columns=name").text
    assert headings(page) == ["Level", "Customer name"]


def test_unknown_or_unshowable_columns_are_ignored(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    add(app, "rep1", "customer", name="Acme", level="A")
    sign_in("rep1")
    asked = "nonsense,name,name,password_hash,contacts"
    assert headings(client.get(LIST, query_string={"columns": asked}).text) == ["Customer name"]
    default = headings(client.get(LIST).text)
    assert headings(client.get(LIST, query_string={"columns": "nonsense"}).text) == default


def test_a_saved_view_keeps_its_columns(app: Flask, client: FlaskClient, sign_in: Login) -> None:
    add(app, "rep1", "customer", name="Alpha", level="A")
    sign_in("rep1")
    send(client, "/crm_sfa/customer/views", {"name": "Narrow", "columns": "level,name"})
    page = client.get(LIST).text
    link = re.search(r'<a href="([^"]+)">Narrow</a>', page)
    assert link is not None
    assert headings(client.get(link.group(1).replace("&amp;", "&")).text) == [
        "Level",
        "Customer name",
    ]


def test_filtering_keeps_the_chosen_columns(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    sign_in("rep1")
    page = client.get(LIST, query_string={"columns": "level,name"}).text
    assert 'name="columns" value="level,name" form="list-filters"' in page


def test_a_field_hidden_from_the_reader_is_neither_offered_nor_shown(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    add(app, "admin", "product", code="P1", name="Seat", category="software", list_price="10")
    sign_in("rep1")
    page = client.get("/crm_sfa/product/", query_string={"columns": "name,floor_price"}).text
    assert headings(page) == ["Product name"]
    assert 'value="floor_price"' not in page
