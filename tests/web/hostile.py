"""Hostile values and the requests that carry them, for tests/web/test_hostile_input.py.

The values are the kind a parser in Python takes but a database refuses or overflows on:
numbers past 64 bits or past a column's precision, digits that are not ASCII, dates past
year 9999 or before year 1, NUL characters, lone surrogates, over-long text, and JSON of
the wrong type. The requests are derived from the app itself (its URL map, the names of
the inputs its pages show, its OpenAPI document), so a route or a field added later is
covered without touching the test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.routing import Rule

BIG = str(2**70)
TEXT = (
    "9" * 27 + ".5",
    "123456789012345678901234567",
    "9" * 18,
    BIG,
    "-" + BIG,
    "-1",
    "0",
    "²",
    "٣",
    "١٢",
    "",
    " ",
    "x" * 5000,
    "a\x00b",
    "\x00",
    "0000-01-01",
    "99999-12-31",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-12:00",
    "1e999999",
    "NaN",
    "-Infinity",
    "__none__",
    "[]",
    "{}",
)
"""Hostile text, as it arrives in a path, a query string or a form."""

IDS = (BIG, "9" * 23, "9223372036854775808", "0", "٣", "²", "１")
"""Hostile record ids for ``<int:...>`` path parts (a minus sign or a letter never matches)."""

JSON = (
    *(json.dumps(value) for value in TEXT),
    '"\\ud800"',
    '"a\\u0000b"',
    BIG,
    "-" + BIG,
    "9" * 27 + ".5",
    "1e999999",
    "-1",
    "0",
    "1.5",
    "true",
    "null",
    "[]",
    "{}",
    '[["x"]]',
    '[{"id": "\\u0000"}]',
    '{"id": 1}',
    f'[{{"{BIG}": {BIG}}}]',
)
"""Hostile JSON values, as raw text so that numbers keep every digit."""

BODIES = (
    b"",
    b"[]",
    b'"x"',
    b"null",
    b"{",
    b"\xff\xfe{}",
    b'{"\\ud800": 1}',
    b"[" * 100_000,
)
"""Whole request bodies that are not a JSON object of field values."""


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    form: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        sent = self.body[:80] if self.body is not None else dict(list(self.form.items())[:3])
        return f"{self.method} {self.url[:200]} {sent!r:.200}"


_PART = re.compile(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-z_]+)>")


def path_parts(rule: Rule) -> dict[str, str]:
    """The rule's path variables and their converter names (``default`` for strings)."""
    return {name: converter or "default" for converter, name in _PART.findall(rule.rule)}


def fill(rule: Rule, values: Mapping[str, str]) -> str:
    """The rule's path with each variable replaced by its value, percent-encoded."""
    return _PART.sub(lambda match: quote(values[match[2]], safe=""), rule.rule)


def rotations(
    names: list[str], values: tuple[str, ...], shifts: Iterable[int] | None = None
) -> Iterator[dict[str, str]]:
    """As many assignments as there are values, together giving every name every value
    (or the ``shifts`` among them, where another form's requests take the others)."""
    for shift in range(len(values)) if shifts is None else shifts:
        yield {name: values[(index + shift) % len(values)] for index, name in enumerate(names)}


def query(url: str, params: Mapping[str, str]) -> str:
    return f"{url}?{urlencode(params)}" if params else url


_NAME = re.compile(r'<(?:input|select|textarea|button)\b[^>]*\bname="([^"]+)"')


def input_names(html: str) -> set[str]:
    """The names of the inputs a page shows (the parameters it sends back)."""
    return {name.replace("&#34;", '"').replace("&amp;", "&") for name in _NAME.findall(html)}


def json_object(keys: list[str], values: list[str]) -> bytes:
    """A JSON object of ``keys`` with raw JSON ``values`` (which keep every digit)."""
    pairs = ", ".join(
        f"{json.dumps(key)}: {value}" for key, value in zip(keys, values, strict=True)
    )
    return f"{{{pairs}}}".encode()


def resolve(document: Mapping[str, Any], item: Mapping[str, Any]) -> Mapping[str, Any]:
    """``item``, or what its ``$ref`` points to in the document."""
    while "$ref" in item:
        node: Any = document
        for part in str(item["$ref"]).removeprefix("#/").split("/"):
            node = node[part]
        item = node
    return item


def body_properties(document: Mapping[str, Any], operation: Mapping[str, Any]) -> list[str]:
    """The property names of an operation's JSON body, nested ones flattened out."""
    if "requestBody" not in operation:
        return []
    content = resolve(document, operation["requestBody"])["content"]
    if "application/json" not in content:  # a file upload: its hostile bodies are not JSON
        return []
    schema = resolve(document, content["application/json"]["schema"])
    return sorted(schema.get("properties", {}))


def error_shaped(payload: Any) -> bool:
    """Whether a JSON answer is the API's one error shape."""
    if not isinstance(payload, dict) or set(payload) != {"error"}:
        return False
    error = payload["error"]
    return (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and re.fullmatch(r"[a-z_]+", error["code"]) is not None
        and isinstance(error.get("message"), str)
    )


def tampered_cursors(cursor: str) -> Iterator[str]:
    """``cursor`` with each of its sort values replaced by each hostile JSON value, signed
    again: its checksum catches damage, not intent, so a client can forge any values."""
    token = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    start = token.index('{"s"')
    payload = json.loads(token[start:])
    for position in range(len(payload["v"])):
        for value in JSON:
            values = [json.dumps(item, ensure_ascii=False) for item in payload["v"]]
            values[position] = value
            sorts = json.dumps(payload["s"], ensure_ascii=False)
            body = f'{{"s":{sorts},"d":{json.dumps(payload["d"])},"v":[{",".join(values)}]}}'
            check = hashlib.sha256(body.encode()).hexdigest()[:start]
            yield base64.urlsafe_b64encode((check + body).encode()).decode().rstrip("=")
