"""Where companies come from: a registry's HTTP API, or a local data file.

Both answer :meth:`Provider.search` with every company whose name contains the query or
whose credit code is the query. :class:`CachedProvider` keeps answers for a while, so a
person who looks up, then picks, asks the registry once.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from formflow_company_lookup.addresses import Network, resolve_allowed
from formflow_company_lookup.companies import (
    BadAnswer,
    Company,
    LookupFailed,
    ProviderTimeout,
    ProviderUnavailable,
    is_credit_code,
)

SAMPLE_DATA = Path(__file__).resolve().parent / "data" / "sample_companies.json"
"""Invented companies, for trying the plugin without a registry account."""
MAX_ANSWER_BYTES = 2 * 1024 * 1024
RETRIED_STATUSES = frozenset({502, 503, 504})


class Provider(Protocol):
    def search(self, query: str) -> list[Company]: ...


class OfflineProvider:
    """Companies from a JSON file: a list of objects with the :class:`Company` fields."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def search(self, query: str) -> list[Company]:
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ProviderUnavailable(f"the company data file {self.path} does not exist") from None
        except ValueError as exc:
            raise BadAnswer(f"the company data file {self.path} is not JSON: {exc}") from None
        if not isinstance(rows, list):
            raise BadAnswer(f"the company data file {self.path} must hold a list of companies")
        companies = [Company.from_mapping(row) for row in rows]
        return _matching(companies, query)


def signature(secret: str, method: str, path: str, query: str, timestamp: str, nonce: str) -> str:
    """The request signature the registry checks: HMAC-SHA256, in hex, over the method,
    path, query, timestamp and nonce joined by new lines."""
    message = "\n".join((method, path, query, timestamp, nonce)).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


class HttpProvider:
    """A company registry's JSON API.

    ``GET <url>?q=<query>`` with the headers ``X-Api-Key``, ``X-Timestamp``, ``X-Nonce`` and
    ``X-Signature`` (see :func:`signature`); the answer is ``{"items": [company, ...]}``.
    A 404 means no company; 502, 503 and 504 are tried once more; anything else that is
    not a list of companies is reported as the registry's fault.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str = "",
        secret: str = "",
        timeout: float = 5.0,
        allowed: Sequence[Network] = (),
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProviderUnavailable(
                f"the registry URL {url!r} must start with https:// or http://"
            )
        self.url = url
        self.parts = parts
        self.api_key = api_key
        self.secret = secret
        self.timeout = timeout
        self.allowed = tuple(allowed)

    def search(self, query: str) -> list[Company]:
        for attempt in (1, 2):
            status, body = self._get(query)
            if status in RETRIED_STATUSES and attempt == 1:
                continue
            return self._read(status, body, query)
        raise AssertionError("unreachable")

    def _get(self, query: str) -> tuple[int, bytes]:
        host = self.parts.hostname or ""
        https = self.parts.scheme == "https"
        port = self.parts.port or (443 if https else 80)
        address = resolve_allowed(host, port, self.allowed)
        path = self.parts.path or "/"
        timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
        headers = {
            "Host": self.parts.netloc,
            "Accept": "application/json",
            "X-Api-Key": self.api_key,
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": signature(self.secret, "GET", path, query, timestamp, nonce),
        }
        connection = _connection(address, host, port, https, self.timeout)
        try:
            connection.request("GET", f"{path}?{urlencode({'q': query})}", headers=headers)
            response = connection.getresponse()
            body = response.read(MAX_ANSWER_BYTES + 1)
        except TimeoutError:
            raise ProviderTimeout(
                f"the company registry did not answer within {self.timeout:g} seconds; try again later"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise ProviderUnavailable(f"the company registry cannot be reached: {exc}") from None
        finally:
            connection.close()
        if len(body) > MAX_ANSWER_BYTES:
            raise BadAnswer("the company registry's answer is too large")
        return response.status, body

    def _read(self, status: int, body: bytes, query: str) -> list[Company]:
        if status == 404:
            return []
        if status in (401, 403):
            raise ProviderUnavailable(
                f"the company registry refused the request (HTTP {status}); check the API key and secret"
            )
        if status != 200:
            raise ProviderUnavailable(
                f"the company registry failed (HTTP {status}); try again later"
            )
        try:
            answer: Any = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BadAnswer("the company registry's answer is not JSON") from None
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise BadAnswer("the company registry's answer has no list of items")
        return [Company.from_mapping(item) for item in items]


def _connection(
    address: str, host: str, port: int, https: bool, timeout: float
) -> http.client.HTTPConnection:
    """A connection to the checked ``address``, speaking to ``host`` (TLS name included)."""
    if not https:
        return http.client.HTTPConnection(address, port, timeout=timeout)
    return _PinnedHTTPSConnection(address, host, port, timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, address: str, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address
        self._context = ssl.create_default_context()

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class CachedProvider:
    """Keeps each query's answer for ``seconds`` (failures are not kept); at most ``size``."""

    def __init__(self, provider: Provider, seconds: float, size: int = 500) -> None:
        self.provider = provider
        self.seconds = seconds
        self.size = size
        self._answers: OrderedDict[str, tuple[float, list[Company]]] = OrderedDict()
        self._lock = threading.Lock()

    def search(self, query: str) -> list[Company]:
        key = " ".join(query.split()).upper()
        now = time.monotonic()
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None and now - kept[0] < self.seconds:
                return list(kept[1])
        found = self.provider.search(query)
        with self._lock:
            self._answers[key] = (now, found)
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return list(found)


def _matching(companies: list[Company], query: str) -> list[Company]:
    wanted = query.strip()
    if not wanted:
        raise LookupFailed("type a company name or a unified social credit code")
    if is_credit_code(wanted):
        return [c for c in companies if c.credit_code == wanted.upper()]
    return [c for c in companies if wanted.casefold() in c.name.casefold()]
