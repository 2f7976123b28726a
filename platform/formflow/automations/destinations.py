"""Where a webhook may be sent: an address on the internet, or one in a network the
operator lists (``FORMFLOW_WEBHOOK_NETWORKS``).

A webhook's URL is written by whoever edits the app, who is not always whoever runs the
server: left unchecked, a call could reach what only the server can (the cloud's metadata
service at 169.254.169.254, a database admin page on 127.0.0.1, the office's 10.x
machines). The check is made on the address the connection actually reached, after DNS,
so a name that resolves to a public address when looked up and a private one when
connected (DNS rebinding) is refused too. Redirects are not followed (one could lead
anywhere), and proxies from the environment are not used (the check would see the proxy).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from collections.abc import Collection
from typing import Any

from formflow.config import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(OSError):
    """A webhook call whose connection reached an address it may not be sent to."""


def allowed(address: str, networks: Collection[IPNetwork] = ()) -> bool:
    """Whether a call may be sent to ``address`` (an IP address as a socket gives it): a
    global one, or one in ``networks``."""
    found: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        found = found.ipv4_mapped
    if any(found in network for network in networks):
        return True
    return found.is_global and not found.is_multicast


def opener(networks: Collection[IPNetwork] = ()) -> urllib.request.OpenerDirector:
    """An opener for webhook calls: http and https only, each connection checked with
    :func:`allowed`, no redirects followed and no proxies."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirects(),
        _CheckedHandler(tuple(networks)),
    )


def _check(sock: socket.socket, host: str, networks: Collection[IPNetwork]) -> None:
    peer = str(sock.getpeername()[0])
    if not allowed(peer, networks):
        sock.close()
        raise DestinationRefused(
            f"{host} is at {peer}, a private or reserved address; list its network in"
            " FORMFLOW_WEBHOOK_NETWORKS to send webhooks there"
        )


class _CheckedConnection(http.client.HTTPConnection):
    networks: Collection[IPNetwork] = ()
    """The operator's networks it may reach besides the internet (set by :func:`_connection`,
    since :class:`http.client.HTTPSConnection` passes no extra arguments on to its base)."""

    def connect(self) -> None:
        super().connect()
        _check(self.sock, self.host, self.networks)


class _CheckedTLSConnection(http.client.HTTPSConnection, _CheckedConnection):
    """HTTPS whose plain connection is checked before the TLS handshake starts (its
    ``super().connect()`` is :class:`_CheckedConnection`'s)."""


class _CheckedHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """Opens http and https URLs alike, over connections checked against ``networks``:
    one handler for both, so :func:`urllib.request.build_opener` adds neither unchecked
    default beside it."""

    def __init__(self, networks: tuple[IPNetwork, ...]) -> None:
        super().__init__()
        self.networks = networks

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_connection(_CheckedConnection, self.networks), req)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_connection(_CheckedTLSConnection, self.networks), req)


def _connection(kind: type[_CheckedConnection], networks: tuple[IPNetwork, ...]) -> Any:
    def make(*args: Any, **kwargs: Any) -> _CheckedConnection:
        connection = kind(*args, **kwargs)
        connection.networks = networks
        return connection

    return make


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx answer is a failed call, as any answer but a 2xx is."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
