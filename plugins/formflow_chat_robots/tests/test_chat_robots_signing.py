"""The robots' signatures, as their documentation computes them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from formflow_chat_robots.robots import (
    Message,
    dingtalk_request,
    dingtalk_sign,
    feishu_request,
    feishu_sign,
)


def test_dingtalk_signs_timestamp_and_secret_in_the_query() -> None:
    url, body = dingtalk_request(
        "https://oapi.dingtalk.com/robot/send?access_token=t",
        "SECs",
        Message("T", "x"),
        lambda: 1.5,
    )
    query = parse_qs(urlsplit(url).query)
    assert query["timestamp"] == ["1500"]
    assert query["sign"] == [dingtalk_sign("SECs", 1500)]
    assert body["msgtype"] == "markdown"


def test_an_unsigned_dingtalk_robot_gets_no_timestamp() -> None:
    url, _body = dingtalk_request("https://d/robot/send?access_token=t", "", Message("T", ""))
    assert "sign=" not in url


def test_feishu_signs_in_the_body_with_the_timestamp_in_seconds() -> None:
    _url, body = feishu_request("https://f/hook/x", "s", Message("T", "x"), lambda: 1700000000.9)
    assert body["timestamp"] == "1700000000"
    assert body["sign"] == feishu_sign("s", 1700000000)
    assert body["content"] == {"text": "T\nx"}
