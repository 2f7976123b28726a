"""The plugin's settings, read into a provider and a field map, and filling a record.

The field map says which record field each company attribute fills and when: ``if_empty``
(the default) leaves a value someone typed alone, ``always`` replaces it with the
registry's. One line per attribute: ``legal_representative = legal_rep always``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from formflow.definitions.model import Form, Label
from formflow.plugin_kit import PluginSetting
from formflow_company_lookup.addresses import parse_networks
from formflow_company_lookup.companies import ATTRIBUTES, Company, LookupFailed, pick
from formflow_company_lookup.providers import (
    SAMPLE_DATA,
    CachedProvider,
    HttpProvider,
    OfflineProvider,
    Provider,
)

PLUGIN = "company_lookup"
DEFAULT_FIELD_MAP = """\
name = name always
credit_code = credit_code if_empty
address = address if_empty
"""

SETTINGS = [
    PluginSetting(
        "provider",
        Label(zh="数据来源", en="Provider"),
        default="offline",
        help=Label(
            zh="offline（本地数据文件）或 http（企业信息接口）",
            en="offline (a local data file) or http (a registry API)",
        ),
    ),
    PluginSetting(
        "data_file",
        Label(zh="本地数据文件", en="Data file"),
        help=Label(
            zh="留空则使用自带的示例数据",
            en="Empty: the invented sample that ships with the plugin",
        ),
    ),
    PluginSetting("url", Label(zh="接口地址", en="Registry URL")),
    PluginSetting("api_key", Label(zh="接口账号", en="API key"), secret=True),
    PluginSetting("secret", Label(zh="签名密钥", en="Signing secret"), secret=True),
    PluginSetting(
        "allowed_networks",
        Label(zh="允许的内网地址", en="Allowed private networks"),
        help=Label(
            zh="例如 10.0.0.0/8；默认拒绝内网和本机地址",
            en="Such as 10.0.0.0/8; private and loopback addresses are refused otherwise",
        ),
    ),
    PluginSetting("timeout_seconds", Label(zh="超时（秒）", en="Time-out (seconds)"), default="5"),
    PluginSetting("cache_seconds", Label(zh="缓存（秒）", en="Cache (seconds)"), default="600"),
    PluginSetting("forms", Label(zh="适用表单", en="Forms"), default="customer"),
    PluginSetting(
        "field_map",
        Label(zh="字段映射", en="Field map"),
        default=DEFAULT_FIELD_MAP,
        help=Label(
            zh="每行：属性 = 字段 [if_empty|always]",
            en="One per line: attribute = field [if_empty|always]",
        ),
    ),
]


class Policy(StrEnum):
    IF_EMPTY = "if_empty"
    ALWAYS = "always"


@dataclass(frozen=True)
class Mapped:
    attribute: str
    field: str
    policy: Policy


def parse_field_map(text: str) -> tuple[Mapped, ...]:
    """The field map from its setting; :class:`LookupFailed` names a line that is wrong."""
    found: list[Mapped] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        attribute, _, rest = (part.strip() for part in line.partition("="))
        words = rest.split()
        if attribute not in ATTRIBUTES or len(words) not in (1, 2):
            raise LookupFailed(
                f"field_map line {number}: write 'attribute = field [if_empty|always]' with an attribute among {', '.join(ATTRIBUTES)}"
            )
        try:
            policy = Policy(words[1]) if len(words) == 2 else Policy.IF_EMPTY
        except ValueError:
            raise LookupFailed(
                f"field_map line {number}: the policy is if_empty or always"
            ) from None
        found.append(Mapped(attribute, words[0], policy))
    return tuple(found)


def fill(
    form: Form, record: Mapping[str, Any], company: Company, field_map: tuple[Mapped, ...]
) -> dict[str, Any]:
    """The changes ``company`` makes to ``record`` under the field map (fields the form lacks
    are skipped)."""
    changes: dict[str, Any] = {}
    for mapped in field_map:
        if not form.has_field(mapped.field):
            continue
        value = getattr(company, mapped.attribute)
        current = record.get(mapped.field)
        if value in ("", None):
            continue
        if mapped.policy is Policy.IF_EMPTY and current not in ("", None):
            continue
        if str(current) != value:
            changes[mapped.field] = value
    return changes


@dataclass(frozen=True)
class Lookup:
    """A provider and a field map, as the settings make them."""

    provider: Provider
    field_map: tuple[Mapped, ...]
    forms: frozenset[str]

    def search(self, query: str) -> list[Company]:
        if not query.strip():
            raise LookupFailed("type a company name or a unified social credit code")
        return self.provider.search(query.strip())

    def one(self, query: str) -> Company:
        return pick(query, self.search(query))


_providers: dict[tuple[str, ...], CachedProvider] = {}
_lock = threading.Lock()


def lookup_from(values: Mapping[str, str]) -> Lookup:
    """The lookup the settings describe; one cache per distinct provider setting."""
    key = tuple(
        values.get(name, "")
        for name in (
            "provider",
            "data_file",
            "url",
            "api_key",
            "secret",
            "allowed_networks",
            "timeout_seconds",
            "cache_seconds",
        )
    )
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            provider = CachedProvider(_provider(values), _number(values, "cache_seconds", 600))
            _providers[key] = provider
    forms = frozenset(values.get("forms", "customer").replace(",", " ").split())
    return Lookup(provider, parse_field_map(values.get("field_map") or DEFAULT_FIELD_MAP), forms)


def _provider(values: Mapping[str, str]) -> Provider:
    kind = values.get("provider", "offline").strip() or "offline"
    if kind == "offline":
        return OfflineProvider(
            Path(values["data_file"]) if values.get("data_file") else SAMPLE_DATA
        )
    if kind == "http":
        if not values.get("url"):
            raise LookupFailed("set the registry URL in the company lookup settings")
        return HttpProvider(
            values["url"],
            api_key=values.get("api_key", ""),
            secret=values.get("secret", ""),
            timeout=_number(values, "timeout_seconds", 5),
            allowed=parse_networks(values.get("allowed_networks", "")),
        )
    raise LookupFailed(f"provider {kind!r} is not offline or http")


def _number(values: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(values.get(name) or default)
    except ValueError:
        raise LookupFailed(f"{name} must be a number of seconds") from None
