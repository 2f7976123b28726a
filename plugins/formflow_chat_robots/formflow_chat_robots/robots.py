"""The three group robots' webhook formats and signing, and posting to them.

Each robot is one webhook URL (with its key or access token in it) and, for DingTalk and
Feishu, an optional signing secret:

- WeCom (企业微信): ``POST <url>`` (``.../webhook/send?key=KEY``) with
  ``{"msgtype": "markdown", "markdown": {"content": ...}}``; the key in the URL is the
  only credential. Success is ``{"errcode": 0}``.
- DingTalk (钉钉): ``POST <url>&timestamp=T&sign=S`` where ``T`` is the time in
  milliseconds and ``S`` the Base64 HMAC-SHA256, keyed by the secret, of ``"T\\nsecret"``;
  body ``{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}}``. Success is
  ``{"errcode": 0}``.
- Feishu (飞书): ``POST <url>`` with ``{"timestamp": "T", "sign": S, "msg_type": "text",
  "content": {"text": ...}}`` where ``T`` is in seconds and ``S`` the Base64 HMAC-SHA256
  keyed by ``"T\\nsecret"`` of an empty message. Success is ``{"code": 0}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from formflow.errors import FormflowError

TIMEOUT_SECONDS = 10.0


class RobotFailed(FormflowError):
    """A robot did not take the message (unreachable, an HTTP error, an error code, a body
    that is not its answer); the notification job tries again later."""


@dataclass(frozen=True)
class Message:
    """What is posted: a title and the text under it."""

    title: str
    text: str


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` query value (before URL-encoding)."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's ``sign`` body value: the key is ``"timestamp\\nsecret"``, the message empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def wecom_request(url: str, _secret: str, message: Message) -> tuple[str, dict[str, Any]]:
    content = f"**{message.title}**\n{message.text}" if message.text else message.title
    return url, {"msgtype": "markdown", "markdown": {"content": content}}


def dingtalk_request(
    url: str, secret: str, message: Message, now: Callable[[], float] = time.time
) -> tuple[str, dict[str, Any]]:
    if secret:
        stamp = int(now() * 1000)
        joiner = "&" if "?" in url else "?"
        url = f"{url}{joiner}timestamp={stamp}&sign={quote_plus(dingtalk_sign(secret, stamp))}"
    text = f"### {message.title}\n\n{message.text}" if message.text else message.title
    return url, {"msgtype": "markdown", "markdown": {"title": message.title, "text": text}}


def feishu_request(
    url: str, secret: str, message: Message, now: Callable[[], float] = time.time
) -> tuple[str, dict[str, Any]]:
    text = f"{message.title}\n{message.text}" if message.text else message.title
    body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
    if secret:
        stamp = int(now())
        body = {"timestamp": str(stamp), "sign": feishu_sign(secret, stamp), **body}
    return url, body


def accepted(kind: str, answer: Mapping[str, Any]) -> bool:
    """Whether a robot's JSON answer says it took the message."""
    if kind == "feishu":
        return bool(answer.get("code", answer.get("StatusCode")) == 0)
    return bool(answer.get("errcode") == 0)


BUILDERS: dict[str, Callable[[str, str, Message], tuple[str, dict[str, Any]]]] = {
    "wecom": wecom_request,
    "dingtalk": dingtalk_request,
    "feishu": feishu_request,
}


def post(
    kind: str, url: str, secret: str, message: Message, timeout: float = TIMEOUT_SECONDS
) -> None:
    """Post ``message`` to the ``kind`` robot at ``url``; :class:`RobotFailed` unless it
    answered that it took it."""
    target, body = BUILDERS[kind](url, secret, message)
    request = urllib.request.Request(
        target,
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise RobotFailed(f"{kind} robot answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise RobotFailed(f"{kind} robot unreachable: {exc}") from None
    try:
        answer = json.loads(raw)
    except ValueError:
        raise RobotFailed(f"{kind} robot gave a body that is not JSON") from None
    if not isinstance(answer, Mapping):
        raise RobotFailed(f"{kind} robot gave an answer that is not an object")
    if not accepted(kind, answer):
        reason = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage")
        raise RobotFailed(f"{kind} robot refused the message: {reason}")
