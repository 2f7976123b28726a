"""SMS providers behind one interface: an outbox that only records, a generic HTTP
gateway, and Alibaba Cloud SMS (阿里云短信) as its published API defines it.

``send`` returns the provider's message id, or raises :class:`TemporaryFailure` (try again
later: unreachable, time-out, 5xx, throttled) or :class:`PermanentFailure` (the provider
refused this message; the reason is kept on the recipient's row).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from formflow.errors import FormflowError

TIMEOUT_SECONDS = 10.0


class SendFailed(FormflowError):
    """A message was not sent."""


class TemporaryFailure(SendFailed):
    """Worth trying again later."""


class PermanentFailure(SendFailed):
    """The provider refused the message; trying again would not help."""


class Bounced(PermanentFailure):
    """The recipient's mail server refused the address itself (a hard bounce)."""


class Provider(Protocol):
    """Sends one message to one number."""

    key: str

    def send(self, phone: str, text: str, params: Mapping[str, Any]) -> str: ...


class OutboxProvider:
    """Sends nothing: the blast's rows are the record of what would have gone out."""

    key = "outbox"

    def send(self, phone: str, text: str, params: Mapping[str, Any]) -> str:
        return f"outbox-{uuid.uuid4().hex}"


def _fetch(request: urllib.request.Request, timeout: float = TIMEOUT_SECONDS) -> tuple[int, bytes]:
    """The status and body of an HTTP answer; :class:`TemporaryFailure` when there is none."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise TemporaryFailure(f"unreachable: {exc}") from None


def _json(body: bytes) -> Mapping[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        raise TemporaryFailure("the answer is not JSON") from None
    if not isinstance(answer, Mapping):
        raise TemporaryFailure("the answer is not a JSON object")
    return answer


def _dig(answer: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``data.id``) of a JSON answer, ``None`` if missing."""
    found: Any = answer
    for part in path.split("."):
        if not isinstance(found, Mapping):
            return None
        found = found.get(part)
    return found


class HttpGatewayProvider:
    """A generic gateway: ``POST url`` with a JSON body built from ``body_template``
    (``{phone}``, ``{text}`` and ``{sender}`` filled in each string value), HTTP Basic
    credentials if given; success when ``success_path`` equals ``success_value``, the
    message id at ``id_path``, the reason at ``error_path``."""

    key = "http"

    def __init__(
        self,
        url: str,
        *,
        username: str = "",
        password: str = "",
        body_template: Mapping[str, Any] | None = None,
        success_path: str = "status",
        success_value: str = "ok",
        id_path: str = "id",
        error_path: str = "error",
        sender: str = "",
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.timeout = timeout
        self.url = url
        self.username = username
        self.password = password
        self.body_template = body_template or {"to": "{phone}", "text": "{text}"}
        self.success_path = success_path
        self.success_value = success_value
        self.id_path = id_path
        self.error_path = error_path
        self.sender = sender

    def send(self, phone: str, text: str, params: Mapping[str, Any]) -> str:
        fill = {"phone": phone, "text": text, "sender": self.sender}
        body = {
            key: value.format_map(fill) if isinstance(value, str) else value
            for key, value in self.body_template.items()
        }
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        status, raw = _fetch(
            urllib.request.Request(
                self.url,
                data=json.dumps(body, ensure_ascii=False).encode(),
                headers=headers,
                method="POST",
            ),
            self.timeout,
        )
        if status == 429 or status >= 500:
            raise TemporaryFailure(f"gateway answered HTTP {status}")
        if status >= 400:
            raise PermanentFailure(f"gateway answered HTTP {status}")
        answer = _json(raw)
        if str(_dig(answer, self.success_path)) != self.success_value:
            raise PermanentFailure(str(_dig(answer, self.error_path) or "refused"))
        return str(_dig(answer, self.id_path) or "")


ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
ALIYUN_TEMPORARY = {"isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "ServiceUnavailable"}


def aliyun_encode(value: str) -> str:
    """Alibaba Cloud's percent-encoding: RFC 3986, ``~`` kept, space as ``%20``."""
    return quote(value, safe="~")


def aliyun_signature(params: Mapping[str, str], secret: str, method: str = "GET") -> str:
    """The ``Signature`` of a request's parameters: Base64 HMAC-SHA1, keyed by the access
    key secret and ``&``, of ``METHOD&%2F&`` and the encoded canonicalized query."""
    canonical = "&".join(
        f"{aliyun_encode(key)}={aliyun_encode(params[key])}" for key in sorted(params)
    )
    to_sign = f"{method}&{aliyun_encode('/')}&{aliyun_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunProvider:
    """Alibaba Cloud SMS ``SendSms`` (API version 2017-05-25, RPC style, signature version
    1.0): the message is the template ``template_code`` approved in the console, filled
    with ``params`` (``TemplateParam``), under the approved ``sign_name``."""

    key = "aliyun"

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        *,
        endpoint: str = ALIYUN_ENDPOINT,
        region: str = "cn-hangzhou",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.timeout = timeout
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.template_code = template_code
        self.endpoint = endpoint
        self.region = region
        self.clock = clock

    def query(self, phone: str, params: Mapping[str, Any]) -> dict[str, str]:
        """The signed query parameters of one ``SendSms`` call."""
        found = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": phone.removeprefix("+86"),
            "RegionId": self.region,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": secrets.token_hex(16),
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_code,
            "TemplateParam": json.dumps(dict(params), ensure_ascii=False, default=str),
            "Timestamp": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        found["Signature"] = aliyun_signature(found, self.access_key_secret)
        return found

    def send(self, phone: str, text: str, params: Mapping[str, Any]) -> str:
        query = urlencode(self.query(phone, params), quote_via=quote, safe="~")
        status, raw = _fetch(
            urllib.request.Request(f"{self.endpoint}?{query}", method="GET"), self.timeout
        )
        if status >= 500:
            raise TemporaryFailure(f"Alibaba Cloud answered HTTP {status}")
        answer = _json(raw)
        code = str(answer.get("Code", ""))
        if code == "OK":
            return str(answer.get("BizId", ""))
        reason = f"{code}: {answer.get('Message', '')}"
        if code in ALIYUN_TEMPORARY:
            raise TemporaryFailure(reason)
        raise PermanentFailure(reason)
