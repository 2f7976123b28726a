"""The SMS tests' app (customers with a mobile number and an opt-out), and a local server
standing in for a generic gateway and for Alibaba Cloud SMS, which checks credentials and
signatures and can be told to fail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

APP = {
    "app.yaml": """
key: shop
version: "1.0"
label: {zh: 商店, en: Shop}
roles:
  - {key: staff, label: {zh: 员工, en: Staff}}
include: {forms: [forms/*.yaml]}
""",
    "forms/customer.yaml": """
key: customer
label: {zh: 客户, en: Customer}
title_field: name
fields:
  - {key: name, type: text, label: {zh: 名称, en: Name}, required: true}
  - {key: city, type: text, label: {zh: 城市, en: City}}
  - {key: level, type: text, label: {zh: 等级, en: Level}}
  - {key: mobile, type: text, label: {zh: 手机, en: Mobile}}
  - {key: sms_opt_out, type: bool, label: {zh: 退订短信, en: No SMS}}
  - {key: email, type: text, label: {zh: 邮箱, en: E-mail}}
  - {key: email_opt_out, type: bool, label: {zh: 退订邮件, en: No e-mail}}
list:
  filters: [city, level]
permissions:
  staff: {create: all, read: all, update: all}
""",
}

USERNAME, PASSWORD = "gw-user", "gw-pass"
KEY_ID, KEY_SECRET = "LTAI-test", "secret-test"


@dataclass
class Gateway:
    """What the servers received, and how they answer the next requests."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    failures: int = 0
    """The next requests answered HTTP 503 (gateway) or Throttling.User (Alibaba Cloud)."""
    malformed: int = 0
    slow: int = 0
    """The next requests answered only after the client gave up (set its time-out low)."""
    released: threading.Event = field(default_factory=threading.Event)
    refuse: set[str] = field(default_factory=set)
    """Numbers the gateway refuses for good."""

    @property
    def gateway_url(self) -> str:
        return f"{self.url}/gateway/send"

    @property
    def aliyun_url(self) -> str:
        return f"{self.url}/"


def expected_signature(params: dict[str, str]) -> str:
    """Alibaba Cloud's signature, computed here from its documentation on its own."""

    def enc(value: str) -> str:
        return quote(value, safe="~")

    canonical = "&".join(f"{enc(k)}={enc(params[k])}" for k in sorted(params))
    to_sign = "GET&%2F&" + enc(canonical)
    digest = hmac.new((KEY_SECRET + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class _Handler(BaseHTTPRequestHandler):
    gateway: Gateway

    def _reply(self, status: int, payload: Any) -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting, as a slow answer's test wants

    def _trouble(self) -> bool:
        state = self.gateway
        if state.slow > 0:
            state.slow -= 1
            state.released.wait(timeout=5)
            self._reply(200, {"status": "ok", "id": "late"})
            return True
        if state.failures > 0:
            state.failures -= 1
            self._reply(503, b"busy")
            return True
        if state.malformed > 0:
            state.malformed -= 1
            self._reply(200, b"<html>")
            return True
        return False

    def do_POST(self) -> None:
        if self._trouble():
            return
        token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {token}":
            self._reply(401, {"status": "error", "error": "bad credentials"})
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        if body.get("to") in self.gateway.refuse:
            self._reply(200, {"status": "error", "error": "blacklisted number"})
            return
        self.gateway.received.append(body)
        self._reply(200, {"status": "ok", "id": f"gw-{len(self.gateway.received)}"})

    def do_GET(self) -> None:
        params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        signature = params.pop("Signature", "")
        if self.gateway.failures > 0:
            self.gateway.failures -= 1
            self._reply(200, {"Code": "Throttling.User", "Message": "Request was denied"})
            return
        if params.get("AccessKeyId") != KEY_ID or not hmac.compare_digest(
            signature, expected_signature(params)
        ):
            self._reply(400, {"Code": "SignatureDoesNotMatch", "Message": "bad signature"})
            return
        self.gateway.received.append(params)
        self._reply(200, {"Code": "OK", "BizId": f"biz-{len(self.gateway.received)}"})

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running_gateway() -> Iterator[Gateway]:
    """Both servers on one free 127.0.0.1 port, in a thread, while the block runs."""
    state = Gateway()
    handler = type("Handler", (_Handler,), {"gateway": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield state
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
