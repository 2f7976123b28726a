"""A local stand-in for the three robots' webhooks, which checks each request's key or
signature as the real ones do, and can be told to fail or to answer badly."""

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
from urllib.parse import parse_qs, urlsplit

WECOM_KEY = "wecom-key-1"
DINGTALK_TOKEN = "ding-token-1"
DINGTALK_SECRET = "SECding-secret"
FEISHU_TOKEN = "feishu-hook-1"
FEISHU_SECRET = "feishu-secret"


@dataclass
class Robots:
    """What the robots received, and how they are to answer the next requests."""

    url: str = ""
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: int = 0
    """The next requests answered HTTP 503."""
    malformed: int = 0
    """The next requests answered with a body that is not JSON."""
    slow: int = 0
    """The next requests answered only after the client gave up (set its time-out low)."""
    released: threading.Event = field(default_factory=threading.Event)

    def settings(self) -> dict[str, str]:
        return {
            "wecom_webhook": f"{self.url}/cgi-bin/webhook/send?key={WECOM_KEY}",
            "dingtalk_webhook": f"{self.url}/robot/send?access_token={DINGTALK_TOKEN}",
            "dingtalk_secret": DINGTALK_SECRET,
            "feishu_webhook": f"{self.url}/open-apis/bot/v2/hook/{FEISHU_TOKEN}",
            "feishu_secret": FEISHU_SECRET,
        }

    def texts(self, robot: str) -> list[str]:
        found = []
        for name, body in self.received:
            if name != robot:
                continue
            if robot == "feishu":
                found.append(body["content"]["text"])
            elif robot == "dingtalk":
                found.append(body["markdown"]["text"])
            else:
                found.append(body["markdown"]["content"])
        return found


def _answer(robot: str, body: dict[str, Any], query: dict[str, list[str]], path: str) -> Any:
    """The robot's JSON answer, as the real one gives it, for a request that arrived."""
    if robot == "wecom":
        if query.get("key") != [WECOM_KEY]:
            return {"errcode": 93000, "errmsg": "invalid webhook url"}
        return {"errcode": 0, "errmsg": "ok"}
    if robot == "dingtalk":
        stamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
        expected = base64.b64encode(
            hmac.new(
                DINGTALK_SECRET.encode(), f"{stamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256
            ).digest()
        ).decode()
        if query.get("access_token") != [DINGTALK_TOKEN] or not hmac.compare_digest(sign, expected):
            return {"errcode": 310000, "errmsg": "sign not match"}
        return {"errcode": 0, "errmsg": "ok"}
    stamp = str(body.get("timestamp", ""))
    expected = base64.b64encode(
        hmac.new(f"{stamp}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()
    ).decode()
    if not path.endswith(FEISHU_TOKEN) or not hmac.compare_digest(
        str(body.get("sign", "")), expected
    ):
        return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
    return {"code": 0, "msg": "success"}


class _Handler(BaseHTTPRequestHandler):
    robots: Robots

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        robot = (
            "wecom"
            if parts.path.startswith("/cgi-bin/")
            else "dingtalk"
            if parts.path.startswith("/robot/")
            else "feishu"
        )
        state = self.robots
        if state.slow > 0:
            state.slow -= 1
            state.released.wait(timeout=5)
            self._reply(200, b'{"errcode": 0, "code": 0}')
            return
        if state.failures > 0:
            state.failures -= 1
            self._reply(503, b"busy")
            return
        if state.malformed > 0:
            state.malformed -= 1
            self._reply(200, b"<html>gateway</html>")
            return
        answer = _answer(robot, body, query, parts.path)
        if answer.get("errcode", answer.get("code")) == 0:
            state.received.append((robot, body))
        self._reply(200, json.dumps(answer).encode())

    def _reply(self, status: int, payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting, as a slow answer's test wants

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running_robots() -> Iterator[Robots]:
    """The three robots on a free 127.0.0.1 port, in a thread, while the block runs."""
    state = Robots()
    handler = type("Handler", (_Handler,), {"robots": state})
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
