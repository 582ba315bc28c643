"""Rate throttles keyed by the client's address (``core.clients.client_address``), never by a header
the client could forge. Each scope's rate is a setting (``DEFAULT_THROTTLE_RATES``)."""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core.clients import client_address


class AddressRateThrottle(SimpleRateThrottle):
    """Counts every request of a scope per client address, signed in or not."""

    def get_rate(self) -> str | None:
        # Read at call time (DRF binds the rates at import), so a changed setting takes effect.
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        if self.scope not in rates:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}")
        return str(rates[self.scope])

    def get_ident(self, request: Any) -> str:
        return client_address(request) or "unknown"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class RegisterThrottle(AddressRateThrottle):
    scope = "register"


class TokenThrottle(AddressRateThrottle):
    scope = "token"
