"""Rate throttles keyed by the client's address (``core.clients.client_address``, an IPv6 client by its
/64), never by a header the client could forge. Each scope's rate is a setting (``DEFAULT_THROTTLE_RATES``);
the counts are atomic, in Redis or, without it, in the database (``core.attempts``)."""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from core import attempts
from core.clients import address_bucket, client_address
from core.lockout import LockedOut, Lockout, attempt_begin, lockout_for

_REFUSED = "throttle_refused"  # set on a request an AddressRateThrottle refused


def _django_request(request: Any) -> Any:
    return getattr(request, "_request", request)


class AddressRateThrottle(BaseThrottle):
    """Counts every request of a scope per client address, signed in or not. The check and the count are
    one atomic step in Redis, or in the database when Redis is not set or down (``core.attempts``), so
    concurrent requests cannot slip past the rate and the limit holds without Redis."""

    scope = ""

    def __init__(self) -> None:
        self.limits: list[attempts.Limit] = []

    def get_rate(self) -> str:
        # Read at call time (DRF binds the rates at import), so a changed setting takes effect.
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        if self.scope not in rates:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}")
        return str(rates[self.scope])

    def get_ident(self, request: Any) -> str:
        return address_bucket(client_address(request)) or "unknown"

    def allow_request(self, request: Any, view: Any) -> bool:
        limit, window = attempts.parse_rate(self.get_rate())
        self.limits = [attempts.Limit(f"throttle:{self.scope}:{self.get_ident(request)}", limit, window)]
        allowed = attempts.reserve(self.limits)
        if not allowed:
            setattr(_django_request(request), _REFUSED, True)
        return allowed

    def wait(self) -> float | None:
        return attempts.retry_after(self.limits) if self.limits else None


class RegisterThrottle(AddressRateThrottle):
    scope = "register"


class TokenThrottle(AddressRateThrottle):
    scope = "token"


class SignInLockoutThrottle(BaseThrottle):
    """Takes the sign-in's slot for its username and address before the password is checked, or refuses
    a locked one (``core.lockout``); 429 with ``Retry-After`` until the lockout ends. The failure receiver
    frees the slot; a successful sign-in's frees itself after ``core.lockout.PENDING_SECONDS``. Listed
    after the view's rate throttle: DRF asks every throttle, and a request it refused takes no slot."""

    def __init__(self) -> None:
        self.lockout: Lockout | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        data = request.data
        username = data.get("username") if hasattr(data, "get") else None
        if not isinstance(username, str):
            username = None
        if getattr(_django_request(request), _REFUSED, False):  # no password is checked: only say so if locked
            self.lockout = lockout_for(username=username, address=client_address(request))
            return self.lockout is None
        try:
            attempt_begin(request=request, username=username)
        except LockedOut as exc:
            self.lockout = exc.lockout
            return False
        return True

    def wait(self) -> float | None:
        return self.lockout.seconds_left() if self.lockout is not None else None
