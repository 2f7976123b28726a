"""Server-side request forgery protection: where the HTTP provider may connect.

The registry's host name is resolved first and every address it resolves to is checked;
the connection is then made to the address that was checked, so a second DNS answer
cannot send it elsewhere. Private, loopback, link-local, multicast and reserved addresses
are refused unless a network in the settings allows them (a registry on the intranet).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

from formflow_company_lookup.companies import AddressRefused, ProviderUnavailable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[Network, ...]:
    """Networks from a setting such as ``10.0.0.0/8, 127.0.0.1``; bad entries are refused."""
    found = []
    for part in text.replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise AddressRefused(
                f"{part!r} in allowed_networks is not a network such as 10.0.0.0/8"
            ) from None
    return tuple(found)


def is_public(address: Address) -> bool:
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def resolve_allowed(host: str, port: int, allowed: Sequence[Network]) -> str:
    """The address to connect to for ``host``: every address it resolves to must be public
    or inside ``allowed``; :class:`AddressRefused` otherwise."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ProviderUnavailable(
            f"the registry's host {host!r} cannot be resolved: {exc.strerror}"
        ) from None
    addresses = [ipaddress.ip_address(answer[4][0]) for answer in answers]
    for address in addresses:
        if not is_public(address) and not any(address in network for network in allowed):
            raise AddressRefused(
                f"the registry's host {host!r} is at {address}, a private or loopback address; "
                "add its network to allowed_networks in the plugin settings if this is intended"
            )
    return str(addresses[0])
