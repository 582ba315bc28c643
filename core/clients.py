"""The address of the client behind a request, for every per-address throttle and lockout.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only as far as
``settings.TRUSTED_PROXIES`` allows:

- empty (the default): no proxy is trusted, the address is ``REMOTE_ADDR`` and the header is ignored;
- a count ``N``: exactly ``N`` proxies (load balancer, ingress) stand in front of the application and
  each appends the address it received from; the client is the ``N``-th address from the right of
  ``X-Forwarded-For`` + ``REMOTE_ADDR``;
- networks (``10.0.0.0/8,192.168.1.7``): the proxies are the hosts in these networks; the client is the
  first address, from the right, outside them.

Whatever a client writes to the left of what the trusted proxies appended is never read.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def parse_trusted_proxies(value: str | int | None) -> int | tuple[IPNetwork, ...]:
    """``TRUSTED_PROXIES`` as a count of proxies or a tuple of networks; raises ``ValueError``."""
    if value is None:
        return 0
    if isinstance(value, int):
        if value < 0:
            raise ValueError("TRUSTED_PROXIES cannot be negative")
        return value
    text = value.strip()
    if not text:
        return 0
    if text.isdigit():
        return int(text)
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def parse_address(value: str) -> IPAddress | None:
    """An address as a proxy writes it (``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:80``, ``::1``), else None."""
    text = value.strip().strip('"')
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(request: Any) -> str | None:
    """The client's address (normalised text), or None when the request carries no usable address."""
    meta = request.META
    remote = parse_address(meta.get("REMOTE_ADDR") or "")
    trusted = parse_trusted_proxies(getattr(settings, "TRUSTED_PROXIES", ""))
    if remote is None or not trusted:
        return str(remote) if remote is not None else None
    forwarded = [part for part in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if part.strip()]
    if isinstance(trusted, int):
        # Each trusted proxy appended one address: the client is the N-th from the right. With fewer
        # addresses than proxies the leftmost one is the earliest any proxy recorded.
        if not forwarded:
            return str(remote)
        found = parse_address(forwarded[max(len(forwarded) - trusted, 0)])
        return str(found) if found is not None else str(remote)
    address = remote
    for part in reversed(forwarded):
        if not any(address in network for network in trusted):
            break
        found = parse_address(part)
        if found is None:
            break  # garbage left of a trusted proxy: the proxy's own peer is the last thing known
        address = found
    return str(address)


def address_bucket(address: str | None) -> str | None:
    """What per-address limits count under: an IPv4 address itself, an IPv6 address's /64 (one home
    connection or server gets a whole /64, so counting single addresses would give it billions of
    allowances)."""
    found = parse_address(address or "")
    if found is None:
        return address
    if isinstance(found, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{found}/64", strict=False))
    return str(found)
