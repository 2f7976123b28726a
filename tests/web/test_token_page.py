"""The API token page's form: its fields are drawn like the account and admin pages'."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient

from web.conftest import csrf_token

PAGE = "/account/tokens/"


def test_a_name_too_long_is_marked_invalid_and_linked_to_its_message(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    data = {"name": "x" * 101, "expires": "", "csrf_token": csrf_token(client, PAGE)}
    page = client.post(PAGE, data=data).get_data(as_text=True)
    assert 'aria-describedby="name-error" aria-invalid="true"' in page
    assert '<p class="error" role="alert" id="name-error">' in page


def test_the_name_field_says_its_limit_and_that_it_is_required(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    page = client.get(PAGE).get_data(as_text=True)
    assert '<label class="required" for="name">' in page
    assert 'maxlength="100" name="name"' in page


def test_without_tokens_the_list_card_says_there_are_none(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    page = client.get(PAGE).get_data(as_text=True)
    assert re.search(
        r'<section class="card">\s*<h2>我的令牌</h2>\s*<p class="muted">你还没有 API 令牌。</p>',
        page,
    )


def test_a_token_made_is_listed_in_the_card_under_its_heading(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    data = {"name": "nightly sync", "expires": "", "csrf_token": csrf_token(client, PAGE)}
    client.post(PAGE, data=data)
    page = client.get(PAGE).get_data(as_text=True)
    listed = re.search(r"<h2>我的令牌</h2>(.*?)</section>", page, re.S)
    assert listed is not None
    assert "<td>nightly sync</td>" in listed.group(1)
    assert "你还没有 API 令牌。" not in page
