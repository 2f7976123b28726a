"""Duplicate checks through the API: a warning is 409 ``duplicate_suspected`` until the
client confirms; a blocking check is 422 whatever it sends; matches name their holder."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web.test_api import CUSTOMERS, Api, token_for

LEADS = "/api/v1/crm_sfa/lead/records"
CODE = "91350100M000100Y43"


@pytest.fixture
def api_as(app: Flask, client: FlaskClient) -> Any:
    return lambda username: Api(client, token_for(app, username))


def _lead(company: str, **more: Any) -> dict[str, Any]:
    return {"company": company, "contact_name": "张三", "source": "website", **more}


def test_a_warning_is_409_until_confirmed(api_as: Any) -> None:
    rep1: Api = api_as("rep1")
    rep2: Api = api_as("rep2")
    assert rep1.post(CUSTOMERS, json={"name": "华为技术有限公司"}).status_code == 201
    warned = rep2.post(LEADS, json=_lead("华为技术"))
    assert warned.status_code == 409, warned.text
    error = warned.json["error"]
    assert error["code"] == "duplicate_suspected"
    (problem,) = error["fields"]["company"]
    assert problem["code"] == "duplicate"
    assert "rep1" in problem["message"]
    confirmed = rep2.post(LEADS + "?confirm_duplicates=1", json=_lead("华为技术"))
    assert confirmed.status_code == 201, confirmed.text


def test_an_update_that_makes_a_duplicate_is_warned(api_as: Any) -> None:
    rep1: Api = api_as("rep1")
    rep1.post(LEADS, json=_lead("甲公司", email="boss@example.com"))
    lead = rep1.post(LEADS, json=_lead("乙公司")).json
    changed = rep1.patch(
        f"{LEADS}/{lead['id']}", json={"email": "BOSS@example.com", "version": lead["version"]}
    )
    assert changed.status_code == 409
    assert changed.json["error"]["code"] == "duplicate_suspected"


def test_a_blocking_check_is_422_even_when_confirmed(api_as: Any) -> None:
    rep1: Api = api_as("rep1")
    assert rep1.post(CUSTOMERS, json={"name": "丙", "credit_code": CODE}).status_code == 201
    refused = rep1.post(
        CUSTOMERS + "?confirm_duplicates=1", json={"name": "丁", "credit_code": CODE}
    )
    assert refused.status_code == 422
    assert "credit_code" in refused.json["error"]["fields"]
