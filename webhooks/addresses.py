"""Where a webhook may go: public internet addresses only, unless ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES``.

An endpoint's URL is typed by staff, and the platform sends signed requests to it from inside its own
network. An address that is loopback, private, link-local (the cloud metadata service at 169.254.169.254),
shared (carrier-grade NAT), reserved, multicast or unspecified could reach the database, Redis or another
internal service, so it is refused twice:

- when the endpoint is saved, for a URL whose host is such an address written out, or ``localhost``;
- when each request connects: every address the host name resolves to must be public, and the connection
  goes to an address that was checked, so a name that resolves elsewhere later (DNS rebinding) is refused
  then. Requests go straight to the receiver, never through a proxy from the environment.

A deployment whose receivers live on its own network (a development machine, the test suite) sets
``WEBHOOK_ALLOW_PRIVATE_ADDRESSES``.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(OSError):
    """The receiver's address is not a public one (the request is not sent)."""


def allowed(address: Address) -> bool:
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def refused_host(url: str) -> str | None:
    """The URL's host when it names a non-public address itself (a literal IP, ``localhost``); else None.
    Names are resolved when a request connects, not here."""
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return None
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if allowed(address) else host


def _connect(host: str, port: int, timeout: Any) -> socket.socket:
    """A connection to the first public address of ``host`` (all of them must be public)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # an IPv6 scope id dropped
        if not allowed(address):
            raise BlockedAddress(f"{host} resolves to {address}, which is not a public address")
    error: OSError | None = None
    for family, kind, proto, _name, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"{host} has no address")


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = _connect(self.host, self.port, self.timeout)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        sock = _connect(self.host, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(
            _HTTPSConnection,
            req,
            context=self._context,  # type: ignore[attr-defined]
            check_hostname=self._check_hostname,  # type: ignore[attr-defined]
        )


def opener(*handlers: urllib.request.BaseHandler | type[urllib.request.BaseHandler]) -> urllib.request.OpenerDirector:
    """A urllib opener that connects to checked addresses only, with no proxy, plus ``handlers``."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _HTTPHandler, _HTTPSHandler, *handlers)
