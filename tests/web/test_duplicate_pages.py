"""Duplicate checks in the record form: a warned match shows next to its field with who
holds it, everything typed is kept, and "Save anyway" stores the record."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web import records_support
from web.records_support import add, send

sign_in = records_support.sign_in
warm_caches = records_support.warm_caches
pytestmark = pytest.mark.usefixtures("warm_caches")

Login = Callable[[str], FlaskClient]
NEW_LEAD = "/crm_sfa/lead/new"
LEAD = {"company": "华为 技术", "contact_name": "王五", "source": "website", "status": "new"}


def test_a_warned_match_asks_before_saving(app: Flask, client: FlaskClient, sign_in: Login) -> None:
    add(app, "rep2", "customer", name="华为技术有限公司")
    sign_in("rep1")
    warned = send(client, NEW_LEAD, LEAD)
    assert warned.status_code == 409, warned.text
    assert "This may duplicate a record already there" in warned.text
    assert "is held by rep2" in warned.text
    assert 'value="华为 技术"' in warned.text  # what was typed is kept
    assert "data-confirm-duplicates" in warned.text
    saved = send(client, NEW_LEAD, {**LEAD, "confirm_duplicates": "1"})
    assert saved.status_code == 302, saved.text


def test_a_blocking_match_cannot_be_saved_anyway(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    add(app, "rep2", "customer", name="甲", credit_code="91350100M000100Y43")
    sign_in("rep1")
    data = {"name": "乙", "credit_code": "91350100M000100Y43", "status": "potential"}
    refused = send(client, "/crm_sfa/customer/new", {**data, "confirm_duplicates": "1"})
    assert refused.status_code == 422
    assert "data-confirm-duplicates" not in refused.text
