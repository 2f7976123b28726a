"""The one check of addresses a request asks to be sent back to."""

from __future__ import annotations

import pytest

from formflow.web.local_addresses import local_address


@pytest.mark.parametrize(
    "address",
    [
        "//evil.example/x",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "",
        None,
    ],
)
def test_an_address_a_browser_could_follow_off_the_site_is_refused(address: str | None) -> None:
    assert local_address(address) is None


@pytest.mark.parametrize("address", ["/", "/crm_sfa/customer/?q=a%20b&page=2", "/inbox?box=todo"])
def test_a_path_on_this_site_is_kept(address: str) -> None:
    assert local_address(address) == address
