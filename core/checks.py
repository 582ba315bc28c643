"""System checks of settings this app reads (``manage.py check`` and every server start)."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

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
