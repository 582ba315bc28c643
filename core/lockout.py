"""Sign-in lockout: failed sign-ins are counted per username and per client address; past a
limit, signing in is refused for a while, whatever the password. Admin's login form and the API's
``/auth/token`` share it.

- Failures are counted by a ``user_login_failed`` receiver (``authenticate`` sends it), in fixed
  windows of ``LOGIN_LOCKOUT_WINDOW`` seconds, on ``core.models.ThrottleCounter`` rows: one conditional
  ``UPDATE`` per key inside a transaction, so concurrent failures are each counted once and the
  failure that reaches a limit locks exactly once.
- A lockout is a counter row too (``login:lock:...``, its ``window_start`` the moment it began); it
  lasts ``LOGIN_LOCKOUT_SECONDS``. A failure while the count is still at the limit after a lockout
  ended locks again.
- Every counted failure and every lockout is an audit row on the account (object id 0 when no account
  has that username), with the username and the address.
- A successful admin sign-in clears the username's failures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F, Max
from django.utils import timezone

from core.audit import audit_record_about
from core.clients import address_bucket, client_address
from core.db import retry_on_conflict
from core.models import ThrottleCounter

USERNAME = "username"
ADDRESS = "address"


@dataclass(frozen=True)
class Lockout:
    scope: str  # USERNAME or ADDRESS
    until: datetime

    def seconds_left(self, now: datetime | None = None) -> int:
        return max(int((self.until - (now or timezone.now())).total_seconds()) + 1, 1)


def normalise_username(username: Any) -> str:
    return str(username or "").strip().casefold()[:150]


def username_key(username: Any) -> str:
    """What a username's failures are counted under: the account the database finds for it, as signing in
    does (on MySQL/MariaDB its collation ignores case and accents, so "fóo" signs in as "foo"), else the
    name as typed, folded. Every spelling of one account shares one count."""
    typed = str(username or "").strip()[:150]
    if not typed:
        return ""
    pk = get_user_model()._default_manager.filter(username=typed).values_list("pk", flat=True).first()
    return f"id:{pk}" if pk is not None else normalise_username(typed)


def _scopes(username: str, address: str | None) -> list[tuple[str, str, int]]:
    """(scope, key suffix, failure limit) for what this attempt is counted against."""
    scopes = []
    if username:
        scopes.append((USERNAME, f"user:{username}", settings.LOGIN_LOCKOUT_FAILURES))
    if address:
        bucket = address_bucket(address)
        scopes.append((ADDRESS, f"addr:{bucket}", settings.LOGIN_LOCKOUT_ADDRESS_FAILURES))
    return scopes


def _window_start(now: datetime) -> datetime:
    window = max(int(settings.LOGIN_LOCKOUT_WINDOW), 1)
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window, tz=UTC)


def _active_locks(keys: list[str], now: datetime) -> dict[str, datetime]:
    since = now - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    rows = (
        ThrottleCounter.objects.filter(key__in=keys, window_start__gt=since)
        .values("key")
        .annotate(started=Max("window_start"))
    )
    return {row["key"]: row["started"] for row in rows}


def lockout_for(*, username: Any, address: str | None, now: datetime | None = None) -> Lockout | None:
    """The lockout in force for this username or address (the one that ends last), or None."""
    now = now or timezone.now()
    scopes = _scopes(username_key(username), address)
    if not scopes:
        return None
    locks = _active_locks([f"login:lock:{suffix}" for _scope, suffix, _limit in scopes], now)
    found = [
        Lockout(scope, locks[f"login:lock:{suffix}"] + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS))
        for scope, suffix, _limit in scopes
        if f"login:lock:{suffix}" in locks
    ]
    return max(found, key=lambda lock: lock.until) if found else None


def _count(key: str, start: datetime) -> int:
    """Add one to the counter and read it back; the UPDATE's row lock holds until commit."""
    ThrottleCounter.objects.bulk_create([ThrottleCounter(key=key, window_start=start, count=0)], ignore_conflicts=True)
    counter = ThrottleCounter.objects.filter(key=key, window_start=start)
    counter.update(count=F("count") + 1)
    return counter.values_list("count", flat=True).get()


@retry_on_conflict
def failure_record(*, username: Any, address: str | None, via: str, now: datetime | None = None) -> list[Lockout]:
    """Count one failed sign-in against the username and the address; lock what reached its limit.

    Returns the lockouts this failure began.
    """
    now = (now or timezone.now()).replace(microsecond=0)
    name = username_key(username)
    subject_id = int(name[3:]) if name.startswith("id:") else 0
    start = _window_start(now)
    begun: list[Lockout] = []
    counts: dict[str, int] = {}
    for scope, suffix, limit in _scopes(name, address):
        counts[scope] = _count(f"login:fail:{suffix}", start)
        lock_key = f"login:lock:{suffix}"
        if counts[scope] >= limit and lock_key not in _active_locks([lock_key], now):
            ThrottleCounter.objects.bulk_create(
                [ThrottleCounter(key=lock_key, window_start=now, count=1)], ignore_conflicts=True
            )
            begun.append(Lockout(scope, now + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)))
    user_model = get_user_model()
    details = {"username": str(username or "")[:150], "address": address or "", "via": via}
    audit_record_about(
        model=user_model, object_id=subject_id, actor=None, action="login_failed", data={**details, "failures": counts}
    )
    for lock in begun:
        data = {**details, "scope": lock.scope, "until": lock.until.isoformat()}
        audit_record_about(model=user_model, object_id=subject_id, actor=None, action="login_locked", data=data)
    return begun


def failures_clear(*, username: Any, now: datetime | None = None) -> None:
    """Forget the username's failures of the current window (after it signed in)."""
    name = username_key(username)
    if name:
        now = now or timezone.now()
        ThrottleCounter.objects.filter(key=f"login:fail:user:{name}", window_start=_window_start(now)).delete()


def _via(request: Any) -> str:
    return "admin" if request.path.startswith("/admin/") else "api"


def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """``user_login_failed`` receiver: a failure with a request (not a test or shell call) is counted."""
    if request is None:
        return
    username = credentials.get(get_user_model().USERNAME_FIELD, credentials.get("username"))
    failure_record(username=username, address=client_address(request), via=_via(request))


def on_logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if request is not None and user is not None:
        failures_clear(username=user.get_username())
