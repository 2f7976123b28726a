"""The HTTP provider against a local registry that checks signatures and misbehaves."""

from __future__ import annotations

import ipaddress

import pytest

from company_lookup_support import API_KEY, SECRET, Registry
from formflow_company_lookup.companies import (
    AddressRefused,
    BadAnswer,
    ProviderTimeout,
    ProviderUnavailable,
)
from formflow_company_lookup.lookup import lookup_from
from formflow_company_lookup.providers import CachedProvider, HttpProvider

LOCAL = [ipaddress.ip_network("127.0.0.0/8")]


def provider(registry: Registry, **overrides: object) -> HttpProvider:
    options: dict[str, object] = {"api_key": API_KEY, "secret": SECRET, "allowed": LOCAL}
    options.update(overrides)
    return HttpProvider(registry.url, **options)  # type: ignore[arg-type]


def test_a_signed_request_gets_the_registry_s_companies(registry: Registry) -> None:
    [company] = provider(registry).search("北京明川")
    assert (company.name, company.status) == ("北京明川精密仪器有限公司", "存续")
    assert registry.requests == ["北京明川"]


def test_a_wrong_secret_is_refused_with_a_hint(registry: Registry) -> None:
    with pytest.raises(ProviderUnavailable, match=r"HTTP 401.*check the API key and secret"):
        provider(registry, secret="wrong").search("北京明川")


def test_a_slow_registry_times_out_with_a_clear_message(registry: Registry) -> None:
    registry.delay = 2.0
    with pytest.raises(ProviderTimeout, match=r"did not answer within 0\.2 seconds"):
        provider(registry, timeout=0.2).search("北京明川")


def test_a_registry_that_is_busy_once_is_asked_again(registry: Registry) -> None:
    registry.fail_next = [503]
    assert [c.name for c in provider(registry).search("北京明川")] == ["北京明川精密仪器有限公司"]
    assert registry.requests == ["北京明川", "北京明川"]


def test_a_registry_that_keeps_failing_says_so(registry: Registry) -> None:
    registry.fail_next = [503, 503]
    with pytest.raises(ProviderUnavailable, match=r"failed \(HTTP 503\); try again later"):
        provider(registry).search("北京明川")


def test_a_malformed_body_is_the_registry_s_fault(registry: Registry) -> None:
    registry.body = b"<html>maintenance</html>"
    with pytest.raises(BadAnswer, match="not JSON"):
        provider(registry).search("北京明川")


def test_a_body_without_items_is_refused(registry: Registry) -> None:
    registry.body = b'{"data": []}'
    with pytest.raises(BadAnswer, match="no list of items"):
        provider(registry).search("北京明川")


def test_items_that_are_not_companies_are_refused(registry: Registry) -> None:
    registry.body = b'{"items": [{"name": {"zh": "x"}, "credit_code": "1"}]}'
    with pytest.raises(BadAnswer, match="gave name as dict"):
        provider(registry).search("北京明川")


def test_not_found_is_an_empty_answer(registry: Registry) -> None:
    assert provider(registry).search("不存在") == []


def test_loopback_is_refused_unless_allowed(registry: Registry) -> None:
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.1, a private or loopback address"):
        provider(registry, allowed=()).search("北京明川")
    assert registry.requests == []


def test_a_name_resolving_to_loopback_is_refused(registry: Registry) -> None:
    url = registry.url.replace("127.0.0.1", "localhost")
    with pytest.raises(AddressRefused, match="'localhost' is at"):
        HttpProvider(url, api_key=API_KEY, secret=SECRET).search("北京明川")


def test_answers_are_cached(registry: Registry) -> None:
    cached = CachedProvider(provider(registry), seconds=600)
    cached.search("北京明川")
    cached.search(" 北京明川 ")
    assert registry.requests == ["北京明川"]


def test_failures_are_not_cached(registry: Registry) -> None:
    cached = CachedProvider(provider(registry), seconds=600)
    registry.fail_next = [500]
    with pytest.raises(ProviderUnavailable):
        cached.search("北京明川")
    assert len(cached.search("北京明川")) == 1


def test_settings_choose_the_http_provider(registry: Registry) -> None:
    lookup = lookup_from(
        {
            "provider": "http",
            "url": registry.url,
            "api_key": API_KEY,
            "secret": SECRET,
            "allowed_networks": "127.0.0.1/32",
        }
    )
    assert lookup.one("91110108MA01AB2C3D").name == "北京明川精密仪器有限公司"
