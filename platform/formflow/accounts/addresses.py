"""Where people may sign in from: address allow-lists per user or per role.

An administrator may limit a user, or everyone holding a role in an app, to networks given
in CIDR notation (``10.0.0.0/8``, ``203.0.113.7``, ``2001:db8::/32``). Someone no rule names
may come from anywhere; someone several rules name may come from any network of any of them.
Pages and the API both hold to it, on every request, so a rule applies at once to sessions
and tokens already in use.

Behind a reverse proxy every request seems to come from the proxy. Only when the proxy's own
address is among the trusted proxies (``FORMFLOW_TRUSTED_PROXIES``) is its
``X-Forwarded-For`` header believed, read from the right, past every trusted hop; anyone else
could write that header themselves.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from threading import Lock

from sqlalchemy import Connection, Engine, delete, insert, select

from formflow import audit
from formflow.accounts.errors import AccountError
from formflow.audit import Action
from formflow.config import IPNetwork as Network
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import address_rules


class InvalidNetwork(AccountError):
    """A network that is not CIDR notation or an address."""


@dataclass(frozen=True)
class AddressRule:
    id: int
    networks: tuple[Network, ...]
    user_id: int | None = None
    app_key: str | None = None
    role_key: str | None = None

    def applies_to(self, user_id: int, roles: Mapping[str, Iterable[str]]) -> bool:
        if self.user_id is not None:
            return self.user_id == user_id
        return self.role_key is not None and self.role_key in set(roles.get(self.app_key or "", ()))


def parse_networks(text: str) -> tuple[Network, ...]:
    """Networks separated by commas, spaces or lines; raises :class:`InvalidNetwork`."""
    found: list[Network] = []
    for part in text.replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise InvalidNetwork(
                f"'{part}' is not a network (such as 10.0.0.0/8) or an address"
            ) from None
    return tuple(found)


def allows(
    rules: Sequence[AddressRule], user_id: int, roles: Mapping[str, Iterable[str]], address: str
) -> bool:
    """Whether someone with ``roles`` may come from ``address`` under ``rules``."""
    applying = [rule for rule in rules if rule.applies_to(user_id, roles)]
    if not applying:
        return True
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(client in network for rule in applying for network in rule.networks)


def client_address(remote: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: ``remote``, or, when that is a trusted proxy, the rightmost
    address of ``X-Forwarded-For`` that is not a trusted proxy itself."""
    if not trusted or not forwarded_for or not _within(remote, trusted):
        return remote
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop
    return hops[0] if hops else remote


def _within(address: str, networks: Sequence[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def list_rules(connection: Connection) -> list[AddressRule]:
    rows = connection.execute(select(address_rules).order_by(address_rules.c.id)).mappings()
    return [
        AddressRule(
            id=int(row["id"]),
            networks=parse_networks(row["networks"]),
            user_id=row["user_id"],
            app_key=row["app_key"],
            role_key=row["role_key"],
        )
        for row in rows
    ]


def add_rule(
    connection: Connection,
    networks: str,
    *,
    user_id: int | None = None,
    role: tuple[str, str] | None = None,
) -> int:
    """A rule for one user or one ``(app_key, role_key)``; returns its id."""
    if (user_id is None) == (role is None):
        raise AccountError("a rule is for a user or for a role")
    parsed = parse_networks(networks)
    if not parsed:
        raise InvalidNetwork("give at least one network")
    app_key, role_key = role or (None, None)
    rule_id: int = connection.execute(
        insert(address_rules)
        .values(
            user_id=user_id,
            app_key=app_key,
            role_key=role_key,
            networks=" ".join(str(network) for network in parsed),
        )
        .returning(address_rules.c.id)
    ).scalar_one()
    audit.log(
        connection,
        Action.ADDRESS_RULE_ADD,
        app_key=app_key,
        detail={"rule": rule_id, "user": user_id, "role": role_key, "networks": networks.split()},
    )
    return rule_id


def remove_rule(connection: Connection, rule_id: int) -> bool:
    removed = connection.execute(delete(address_rules).where(address_rules.c.id == rule_id))
    if removed.rowcount:
        audit.log(connection, Action.ADDRESS_RULE_REMOVE, detail={"rule": rule_id})
    return bool(removed.rowcount)


class AddressRules:
    """One process's copy of the rules, read again once ``seconds()`` have passed (the
    instance's version check, a second), so a request pays no query for them while a
    change still reaches every worker at once."""

    def __init__(self, engine: Engine, seconds: Callable[[], float]) -> None:
        self.engine = engine
        self.seconds = seconds
        self._rules: list[AddressRule] = []
        self._read_at = -float("inf")
        self._lock = Lock()

    def current(self) -> list[AddressRule]:
        now = time.monotonic()
        if now - self._read_at >= self.seconds():
            with self._lock:
                if now - self._read_at >= self.seconds():
                    with read_transaction(self.engine) as connection:
                        self._rules = list_rules(connection)
                    self._read_at = now
        return self._rules

    def forget(self) -> None:
        """Read the rules afresh next time (after this process changed them)."""
        self._read_at = -float("inf")
