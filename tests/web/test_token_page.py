"""The API token page's form: its fields are drawn like the account and admin pages'."""

from __future__ import annotations

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
