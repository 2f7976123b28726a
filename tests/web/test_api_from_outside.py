"""The API as a client written from the docs and the OpenAPI document alone sees it, and as
a caller sending what no client should: every answer says what a program needs to go on
(the version a conflict is at, the parameter at fault), in one bounded JSON shape."""

from __future__ import annotations

from web.test_api import CUSTOMERS, Api, admin, api_as, new_customer

__all__ = ["admin", "api_as"]  # fixtures

OPPORTUNITIES = "/api/v1/crm_sfa/opportunity/records"
PRODUCTS = "/api/v1/crm_sfa/product/records"
DOCUMENT = "/api/v1/openapi.json"


# conflicts ------------------------------------------------------------------------


def test_a_stale_update_says_which_version_the_record_is_at(admin: Api) -> None:
    path = f"{CUSTOMERS}/{new_customer(admin)['id']}"
    assert admin.patch(path, json={"short_name": "A", "version": 1}).status_code == 200
    stale = admin.patch(path, json={"short_name": "B", "version": 1})
    assert stale.status_code == 409
    assert stale.json["error"]["code"] == "stale_record"
    assert stale.json["error"]["version"] == 2


def test_a_stale_if_match_says_which_version_the_record_is_at(admin: Api) -> None:
    path = f"{CUSTOMERS}/{new_customer(admin)['id']}"
    assert admin.patch(path, json={"short_name": "A", "version": 1}).status_code == 200
    stale = admin.patch(path, json={"short_name": "B"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.json["error"]["version"] == 2


def test_a_stale_delete_says_which_version_the_record_is_at(admin: Api) -> None:
    path = f"{CUSTOMERS}/{new_customer(admin)['id']}"
    stale = admin.delete(path, query_string={"version": 7})
    assert stale.status_code == 409
    assert stale.json["error"]["version"] == 1


def test_the_document_gives_a_conflicts_version(admin: Api) -> None:
    error = admin.get(DOCUMENT).json["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["properties"]["version"]["type"] == "integer"
