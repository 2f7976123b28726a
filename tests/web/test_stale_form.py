"""A form sent with a stale token (its session ended and the person signed in again): what
they typed is offered back under a fresh token, unless the post came from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient

from web.conftest import csrf_token

NEW_CUSTOMER = "/crm_sfa/customer/new"
HOME = "http://localhost"


def _stale_post(client: FlaskClient, login: Callable[[str], FlaskClient], origin: str) -> str:
    login("rep1")
    stale = csrf_token(client, NEW_CUSTOMER)
    login("rep1")  # signing in again starts a new session with a new token
    response = client.post(
        NEW_CUSTOMER,
        data={"name": "过期表单测试有限公司", "csrf_token": stale},
        headers={"Origin": origin},
    )
    assert response.status_code == 400
    return response.text


def test_a_stale_form_is_offered_again_with_what_was_typed(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    page = _stale_post(client, login, HOME)
    assert 'id="send-again"' in page
    assert 'name="name" value="过期表单测试有限公司"' in page
    fresh = re.search(r'id="send-again".*?name="csrf_token" value="([^"]+)"', page, re.S)
    assert fresh is not None
    sent = client.post(
        NEW_CUSTOMER,
        data={"name": "过期表单测试有限公司", "csrf_token": fresh.group(1)},
        headers={"Origin": HOME},
    )
    assert sent.status_code == 302
    assert re.search(r"/crm_sfa/customer/\d+$", sent.headers["Location"])


def test_a_stale_post_from_another_site_is_not_offered_again(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    page = _stale_post(client, login, "https://elsewhere.example")
    assert 'id="send-again"' not in page
    assert "过期表单测试有限公司" not in page
