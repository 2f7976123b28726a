"""The HTTP providers against a local server: credentials and signatures as each API
defines them, temporary failures tried again, refusals kept with their reason."""

from __future__ import annotations

import pytest

from formflow.testing import Sandbox
from formflow_sms import Blasts, provider_from
from formflow_sms.blasts import messages
from formflow_sms.providers import (
    AliyunProvider,
    HttpGatewayProvider,
    PermanentFailure,
    TemporaryFailure,
)
from sms_support import KEY_ID, KEY_SECRET, PASSWORD, USERNAME, Gateway

SHANGHAI_A = {
    "and": [
        {"field": "city", "op": "eq", "value": "上海"},
        {"field": "level", "op": "eq", "value": "A"},
    ]
}


def gateway_provider(gateway: Gateway) -> HttpGatewayProvider:
    provider = provider_from(
        {
            "provider": "http",
            "http_url": gateway.gateway_url,
            "http_username": USERNAME,
            "http_password": PASSWORD,
        }
    )
    assert isinstance(provider, HttpGatewayProvider)
    return provider


def aliyun(gateway: Gateway, secret: str = KEY_SECRET) -> AliyunProvider:
    return AliyunProvider(KEY_ID, secret, "华东贸易", "SMS_123", endpoint=gateway.aliyun_url)


def test_the_gateway_gets_the_number_and_text_and_answers_an_id(gateway: Gateway) -> None:
    assert gateway_provider(gateway).send("+8613800138000", "你好", {}) == "gw-1"
    assert gateway.received == [{"to": "+8613800138000", "text": "你好"}]


def test_a_gateway_that_is_busy_is_a_temporary_failure(gateway: Gateway) -> None:
    gateway.failures = 1
    with pytest.raises(TemporaryFailure):
        gateway_provider(gateway).send("+8613800138000", "你好", {})


def test_a_gateway_that_answers_too_slowly_is_a_temporary_failure(gateway: Gateway) -> None:
    provider = provider_from(
        {
            "provider": "http",
            "http_url": gateway.gateway_url,
            "http_username": USERNAME,
            "http_password": PASSWORD,
            "timeout_seconds": "0.2",
        }
    )
    gateway.slow = 1
    with pytest.raises(TemporaryFailure, match="unreachable"):
        provider.send("+8613800138000", "你好", {})


def test_a_gateway_body_that_is_not_json_is_a_temporary_failure(gateway: Gateway) -> None:
    gateway.malformed = 1
    with pytest.raises(TemporaryFailure, match="not JSON"):
        gateway_provider(gateway).send("+8613800138000", "你好", {})


def test_a_refused_number_is_a_permanent_failure_with_the_reason(gateway: Gateway) -> None:
    gateway.refuse = {"+8613800138000"}
    with pytest.raises(PermanentFailure, match="blacklisted number"):
        gateway_provider(gateway).send("+8613800138000", "你好", {})


def test_aliyun_requests_are_signed_and_carry_sign_name_and_template(gateway: Gateway) -> None:
    assert aliyun(gateway).send("+8613800138000", "", {"name": "华东贸易"}) == "biz-1"
    (params,) = gateway.received
    assert params["PhoneNumbers"] == "13800138000"
    assert (params["SignName"], params["TemplateCode"]) == ("华东贸易", "SMS_123")
    assert params["TemplateParam"] == '{"name": "华东贸易"}'


def test_aliyun_refuses_a_wrong_secret_for_good(gateway: Gateway) -> None:
    with pytest.raises(PermanentFailure, match="SignatureDoesNotMatch"):
        aliyun(gateway, secret="wrong").send("+8613800138000", "", {})


def test_a_blast_retries_temporary_failures_and_sends_each_message_once(
    box: Sandbox, gateway: Gateway
) -> None:
    blasts = Blasts(box.instance.engine)
    blast_id = blasts.create(
        box.records,
        box.actor("sam"),
        box.app_key,
        "customer",
        SHANGHAI_A,
        phone_field="mobile",
        template="{{ name }}您好",
    )
    gateway.failures = 2  # Throttling.User twice
    assert blasts.send(blast_id, aliyun(gateway), sleep=lambda _s: None) == 2
    assert blasts.summary(blast_id)["sent"] == 2
    assert sorted(p["PhoneNumbers"] for p in gateway.received) == ["13800138000", "13900139000"]


def test_a_blast_records_the_reason_of_a_refused_recipient(box: Sandbox, gateway: Gateway) -> None:
    blasts = Blasts(box.instance.engine)
    blast_id = blasts.create(
        box.records,
        box.actor("sam"),
        box.app_key,
        "customer",
        SHANGHAI_A,
        phone_field="mobile",
        template="{{ name }}您好",
    )
    gateway.refuse = {"+8613800138000"}
    blasts.send(blast_id, gateway_provider(gateway), sleep=lambda _s: None)
    with box.instance.engine.connect() as connection:
        failed = connection.execute(messages.select().where(messages.c.status == "failed")).one()
    assert (failed.phone, failed.reason) == ("+8613800138000", "blacklisted number")
