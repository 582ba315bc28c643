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

The connections here also bound a request's time as a whole: the ``timeout`` a request is opened with is one
deadline for resolving the host, connecting (to every address tried), sending and reading the answer. A
socket timeout alone bounds each operation, so a receiver trickling a byte every few seconds, or a name
with many addresses that do not answer, would keep a request open long past it, and its claim would look
abandoned while it is still being sent.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
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


class _Deadline:
    """The moment a request must be over by, ``seconds`` after it started."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; TimeoutError (an OSError, so a failed attempt) once there are none."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the request took longer than {self.seconds:g} s")
        return left


def _deadline(timeout: Any) -> _Deadline | None:
    if timeout is None or timeout is socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
        return None
    return _Deadline(timeout)


class _DeadlineSocket(socket.socket):
    """A socket whose every send and receive may take only the time left before its deadline."""

    deadline: _Deadline | None = None

    def _time_left(self) -> None:
        if self.deadline is not None:
            self.settimeout(self.deadline.left())

    def recv(self, *args: Any, **kwargs: Any) -> Any:
        self._time_left()
        return super().recv(*args, **kwargs)

    def recv_into(self, *args: Any, **kwargs: Any) -> Any:  # reads through makefile(), as http.client's do
        self._time_left()
        return super().recv_into(*args, **kwargs)

    def send(self, *args: Any, **kwargs: Any) -> Any:
        self._time_left()
        return super().send(*args, **kwargs)

    def sendall(self, *args: Any, **kwargs: Any) -> Any:
        self._time_left()
        return super().sendall(*args, **kwargs)


class _DeadlineSSLSocket(_DeadlineSocket, ssl.SSLSocket):
    """The same over TLS (an SSLSocket reads and writes its descriptor itself, not through the plain one)."""


def _resolve(host: str, port: int, deadline: _Deadline | None) -> list[Any]:
    """``getaddrinfo`` given up on at the deadline. The system resolver takes no timeout, so it runs in a
    thread of its own, left to finish (or time out by itself) when the request has stopped waiting."""
    if deadline is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    answer: list[Any] = []

    def look_up() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except Exception as exc:  # handed to the request's thread
            answer.append(exc)

    thread = threading.Thread(target=look_up, name=f"webhook-dns {host}", daemon=True)
    thread.start()
    thread.join(deadline.left())
    if not answer:
        raise TimeoutError(f"{host} did not resolve within {deadline.seconds:g} s")
    if isinstance(answer[0], Exception):
        raise answer[0]
    return answer[0]


def _connect(host: str, port: int, deadline: _Deadline | None) -> _DeadlineSocket:
    """A connection to the first public address of ``host`` (all of them must be public) that keeps to
    ``deadline``: every address tried shares it."""
    infos = _resolve(host, port, deadline)
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # an IPv6 scope id dropped
        if not allowed(address):
            raise BlockedAddress(f"{host} resolves to {address}, which is not a public address")
    error: OSError | None = None
    for family, kind, proto, _name, sockaddr in infos:
        if deadline is not None:
            deadline.left()  # spent (on the addresses before): no other address is tried
        sock = _DeadlineSocket(family, kind, proto)
        sock.deadline = deadline
        try:
            sock._time_left()
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"{host} has no address")


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = _connect(self.host, self.port, _deadline(self.timeout))


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        sock = _connect(self.host, self.port, _deadline(self.timeout))
        sock._time_left()  # the handshake as a whole gets what is left (it runs in C, on this timeout)
        self._context.sslsocket_class = _DeadlineSSLSocket  # type: ignore[attr-defined]
        tls = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
        tls.deadline = sock.deadline
        self.sock = tls


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
