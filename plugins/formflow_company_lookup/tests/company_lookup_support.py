"""What the company lookup tests share: the app, the field map and a local registry that
checks request signatures, and answers slowly, fails or talks nonsense when asked to."""

from __future__ import annotations

import contextlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from formflow_company_lookup.providers import SAMPLE_DATA, signature

APP = {
    "app.yaml": """\
key: sales
version: "1.0"
label: {zh: 销售, en: Sales}
roles:
  - {key: staff, label: {zh: 员工, en: Staff}}
  - {key: viewer, label: {zh: 只读, en: Viewer}}
include:
  forms: [forms/*.yaml]
  automations: [automations/*.yaml]
""",
    "forms/customer.yaml": """\
key: customer
label: {zh: 客户, en: Customer}
title_field: name
fields:
  - {key: name, type: text, label: {zh: 名称, en: Name}, required: true}
  - {key: credit_code, type: text, label: {zh: 统一社会信用代码, en: Credit code}}
  - {key: legal_rep, type: text, label: {zh: 法定代表人, en: Legal representative}}
  - {key: capital, type: text, label: {zh: 注册资本, en: Registered capital}}
  - {key: founded, type: date, label: {zh: 成立日期, en: Established}}
  - {key: address, type: text, label: {zh: 地址, en: Address}}
  - {key: scope, type: textarea, label: {zh: 经营范围, en: Business scope}}
  - {key: reg_status, type: text, label: {zh: 经营状态, en: Status}}
  - {key: enrich, type: bool, label: {zh: 自动补全, en: Enrich}}
permissions:
  staff: {create: all, read: all, update: all, delete: none}
  viewer: {read: all}
""",
    "automations/enrich.yaml": """\
key: enrich_new_customers
label: {zh: 新客户自动补全企业信息, en: New customers get their company details}
form: customer
trigger: {type: created}
condition: "enrich"
actions:
  - action: company_lookup
    params: {query_fields: [credit_code, name]}
""",
}

FIELD_MAP = """\
name = name always
credit_code = credit_code if_empty
legal_representative = legal_rep always
registered_capital = capital always
established = founded if_empty
address = address if_empty
business_scope = scope always
status = reg_status always
"""

API_KEY = "tenant-42"
SECRET = "registry-signing-secret"
COMPANIES: list[dict[str, Any]] = json.loads(SAMPLE_DATA.read_text(encoding="utf-8"))


class Registry:
    """What the local registry saw, and how it should misbehave."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.delay = 0.0
        self.fail_next: list[int] = []
        self.body: bytes | None = None
        self.url = ""


class _Handler(BaseHTTPRequestHandler):
    registry: Registry

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query).get("q", [""])[0]
        self.registry.requests.append(query)
        expected = signature(
            SECRET,
            "GET",
            parts.path,
            query,
            self.headers.get("X-Timestamp", ""),
            self.headers.get("X-Nonce", ""),
        )
        if self.headers.get("X-Api-Key") != API_KEY or not hmac.compare_digest(
            expected, self.headers.get("X-Signature", "")
        ):
            return self._send(401, b'{"error": "bad signature"}')
        if self.registry.delay:
            time.sleep(self.registry.delay)
        if self.registry.fail_next:
            return self._send(self.registry.fail_next.pop(0), b"busy")
        if self.registry.body is not None:
            return self._send(200, self.registry.body)
        items = [c for c in COMPANIES if c["credit_code"] == query.upper() or query in c["name"]]
        if not items:
            return self._send(404, b'{"items": []}')
        return self._send(200, json.dumps({"items": items}).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up waiting
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running_registry() -> Iterator[Registry]:
    """A registry on a free 127.0.0.1 port, in a thread, for as long as the block runs."""
    state = Registry()
    handler = type("Handler", (_Handler,), {"registry": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/v1/companies"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
