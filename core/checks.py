"""System checks of settings this app reads (``manage.py check`` and every server start)."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from core.clients import parse_trusted_proxies


@register()
def trusted_proxies_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    try:
        parse_trusted_proxies(getattr(settings, "TRUSTED_PROXIES", ""))
    except ValueError as exc:
        return [
            Error(
                f"TRUSTED_PROXIES must be a count or comma-separated networks: {exc}",
                hint="For example 1, or 10.0.0.0/8,192.168.0.7",
                id="core.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def proxy_addresses_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Behind a proxy (``SECURE_PROXY_SSL_HEADER`` set) with no ``TRUSTED_PROXIES``, every request comes from
    the proxy's address: the per-address throttles and sign-in lockout then count all clients together."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and not getattr(settings, "TRUSTED_PROXIES", ""):
        return [
            Warning(
                "The site runs behind a proxy (SECURE_PROXY_SSL_HEADER) but TRUSTED_PROXIES is empty: every client "
                "has the proxy's address, so 20 failed sign-ins from anyone lock every address out.",
                hint="Set TRUSTED_PROXIES to the number of proxies in front (1 behind one load balancer) or to their "
                "networks.",
                id="core.W001",
            )
        ]
    return []
