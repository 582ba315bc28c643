"""Sign-in lockout: failed sign-ins are counted per username and per client address; past a
limit, signing in is refused for a while, whatever the password. Admin's login form and the API's
``/auth/token`` share it.

- Before its password is checked, an attempt takes a slot per username and per address
  (``attempt_begin``): refused as locked out while a lockout is in force, or while the attempts still
  being checked could reach the limit (``login:try:...`` counters; a burst of concurrent guesses gets
  no more checks than the limit). Its slot is freed when its failure is counted, when it signs in, or
  after ``PENDING_SECONDS`` (``/auth/token`` says nothing when it succeeds).
- Failures are counted by a ``user_login_failed`` receiver (``authenticate`` sends it), in fixed
  windows of ``LOGIN_LOCKOUT_WINDOW`` seconds, on ``core.models.ThrottleCounter`` rows: one conditional
  ``UPDATE`` per key inside a transaction, so concurrent failures are each counted once and the
  failure that reaches a limit locks exactly once. Taking a slot and counting a failure hold the
  username's (then the address's) failure row, so they decide one at a time.
- A lockout is a counter row too (``login:lock:...``, its ``window_start`` the moment it began); it
  lasts ``LOGIN_LOCKOUT_SECONDS``. A failure while the count is still at the limit after a lockout
  ended locks again.
- Every counted failure and every lockout is an audit row on the account (object id 0 when no account
  has that username), with the username and the address.
- A successful admin sign-in clears the username's failures; a clear that fails is logged, never the
  sign-in's failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, transaction
from django.db.models import F, Max, Sum
from django.utils import timezone

from core.audit import audit_record_about
from core.clients import address_bucket, client_address
from core.db import retry_on_conflict
from core.models import ThrottleCounter

logger = logging.getLogger(__name__)

USERNAME = "username"
ADDRESS = "address"
# How long an attempt whose outcome never arrives holds its slot: far longer than a password check.
PENDING_SECONDS = 10
_ATTEMPT = "sign_in_attempt"  # the request attribute holding its Attempt


@dataclass(frozen=True)
class Lockout:
    scope: str  # USERNAME or ADDRESS
    until: datetime

    def seconds_left(self, now: datetime | None = None) -> int:
        return max(int((self.until - (now or timezone.now())).total_seconds()) + 1, 1)


class LockedOut(Exception):
    def __init__(self, lockout: Lockout) -> None:
        super().__init__(lockout.scope)
        self.lockout = lockout


@dataclass
class Attempt:
    """A sign-in holding a slot per scope while its password is checked (``attempt_begin``)."""

    name: str  # username_key
    address: str | None
    started: datetime  # the window_start of its login:try:... counters
    settled: bool = False


def normalise_username(username: Any) -> str:
    return str(username or "").strip().casefold()[:150]


# The two kinds of username key: an account's (``acct:<id>``) and a name no account has (``name:<folded>``).
# Each has its prefix, so nothing typed as a username ("acct:7") can stand for another account.
_ACCOUNT, _NAME = "acct:", "name:"


def username_key(username: Any) -> str:
    """What a username's failures are counted under: the account the database finds for it, as signing in
    does (on MySQL/MariaDB its collation ignores case and accents, so "fóo" signs in as "foo"), else the
    name as typed, folded. Every spelling of one account shares one count. A name that cannot be stored
    (a lone surrogate) has no key: only the address is counted."""
    typed = str(username or "").strip()[:150]
    if not typed:
        return ""
    try:
        typed.encode("utf-8")
    except UnicodeEncodeError:
        return ""
    pk = get_user_model()._default_manager.filter(username=typed).values_list("pk", flat=True).first()
    return f"{_ACCOUNT}{pk}" if pk is not None else f"{_NAME}{normalise_username(typed)}"


def _account_of(key: str) -> int:
    """The account id a username key counts failures for, or 0 for a name no account has."""
    return int(key.removeprefix(_ACCOUNT)) if key.startswith(_ACCOUNT) else 0


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
    return _lockout_of(username_key(username), address, now or timezone.now())


def _lockout_of(name: str, address: str | None, now: datetime) -> Lockout | None:
    scopes = _scopes(name, address)
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


def _held_count(key: str, start: datetime) -> int:
    """The counter's count, its row locked until commit (made at 0 when missing): who holds it decides alone."""
    counter = ThrottleCounter.objects.select_for_update().filter(key=key, window_start=start)
    count = counter.values_list("count", flat=True).first()
    if count is None:
        ThrottleCounter.objects.bulk_create(
            [ThrottleCounter(key=key, window_start=start, count=0)], ignore_conflicts=True
        )
        count = counter.values_list("count", flat=True).get()
    return count


def _pending(suffix: str, now: datetime) -> int:
    """Attempts of the last ``PENDING_SECONDS`` whose password is still being checked."""
    since = now - timedelta(seconds=PENDING_SECONDS)
    rows = ThrottleCounter.objects.filter(key=f"login:try:{suffix}", window_start__gt=since)
    return rows.aggregate(total=Sum("count"))["total"] or 0


@retry_on_conflict
def _reserve(attempt: Attempt, now: datetime) -> Lockout | None:
    start = _window_start(now)
    for scope, suffix, limit in _scopes(attempt.name, attempt.address):
        failures = _held_count(f"login:fail:{suffix}", start)
        lock_key = f"login:lock:{suffix}"
        locks = _active_locks([lock_key], now)
        if lock_key in locks:
            transaction.set_rollback(True)  # and the slots taken for earlier scopes
            return Lockout(scope, locks[lock_key] + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS))
        # At the limit with no lockout (one ended within the window), one attempt at a time may try.
        if _pending(suffix, now) >= max(limit - failures, 1):
            transaction.set_rollback(True)
            return Lockout(scope, now + timedelta(seconds=PENDING_SECONDS))
        _count(f"login:try:{suffix}", attempt.started)
    return None


def _free(attempt: Attempt) -> None:
    for _scope, suffix, _limit in _scopes(attempt.name, attempt.address):
        ThrottleCounter.objects.filter(key=f"login:try:{suffix}", window_start=attempt.started, count__gt=0).update(
            count=F("count") - 1
        )


def _request_attempt(request: Any) -> Attempt | None:
    # DRF's Request wraps Django's; the attempt lives on Django's, whichever of them a caller holds.
    return getattr(getattr(request, "_request", request), _ATTEMPT, None)


def attempt_begin(*, request: Any, username: Any, now: datetime | None = None) -> Attempt:
    """Take a slot for the username and the request's address before a password is checked, or raise
    ``LockedOut`` (a lockout in force, or the attempts being checked could reach the limit). The
    failure receiver and ``on_logged_in`` free the slot; ``attempt_abandon`` when neither will run."""
    now = (now or timezone.now()).replace(microsecond=0)
    address = client_address(request) if request is not None else None
    attempt = Attempt(name=username_key(username), address=address, started=now)
    lock = _lockout_of(attempt.name, address, now)  # refused without waiting for the counters' rows
    if lock is None:
        lock = _reserve(attempt, now)
    if lock is not None:
        raise LockedOut(lock)
    if request is not None:
        setattr(getattr(request, "_request", request), _ATTEMPT, attempt)
    return attempt


def attempt_abandon(attempt: Attempt) -> None:
    """Free the slot of an attempt that was neither a failure nor a sign-in (a field missing, or a right
    password admin refuses); nothing once it is settled. A slot that cannot be freed now is logged: it
    frees itself after ``PENDING_SECONDS``."""
    if attempt.settled:
        return
    try:
        retry_on_conflict(_free)(attempt)
    except DatabaseError:
        logger.exception("Could not free a sign-in attempt's slot")
        return
    attempt.settled = True


@retry_on_conflict
def failure_record(
    *, username: Any, address: str | None, via: str, attempt: Attempt | None = None, now: datetime | None = None
) -> list[Lockout]:
    """Count one failed sign-in against the username and the address; lock what reached its limit, and
    free the attempt's slot.

    Returns the lockouts this failure began.
    """
    now = (now or timezone.now()).replace(microsecond=0)
    name = username_key(username)
    subject_id = _account_of(name)
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
    if attempt is not None and not attempt.settled:
        _free(attempt)
    user_model = get_user_model()
    details = {"username": str(username or "")[:150], "address": address or "", "via": via}
    audit_record_about(
        model=user_model, object_id=subject_id, actor=None, action="login_failed", data={**details, "failures": counts}
    )
    for lock in begun:
        data = {**details, "scope": lock.scope, "until": lock.until.isoformat()}
        audit_record_about(model=user_model, object_id=subject_id, actor=None, action="login_locked", data=data)
    return begun


@retry_on_conflict
def failures_clear(*, username: Any, attempt: Attempt | None = None, now: datetime | None = None) -> None:
    """Forget the username's failures of the current window (after it signed in), and free the attempt's
    slot. The row is zeroed, not deleted: a delete racing the insert of a concurrent failure deadlocks."""
    name = username_key(username)
    if name:
        now = now or timezone.now()
        ThrottleCounter.objects.filter(key=f"login:fail:user:{name}", window_start=_window_start(now)).update(count=0)
    if attempt is not None and not attempt.settled:
        _free(attempt)


def _via(request: Any) -> str:
    return "admin" if request.path.startswith("/admin/") else "api"


def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """``user_login_failed`` receiver: a failure with a request (not a test or shell call) is counted."""
    if request is None:
        return
    username = credentials.get(get_user_model().USERNAME_FIELD, credentials.get("username"))
    attempt = _request_attempt(request)
    failure_record(username=username, address=client_address(request), via=_via(request), attempt=attempt)
    if attempt is not None:
        attempt.settled = True


def on_logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """``user_logged_in`` receiver (admin): see ``signed_in``."""
    if request is not None and user is not None:
        signed_in(request=request, user=user)


def signed_in(*, request: Any, user: Any) -> None:
    """A right password (admin's sign-in, a token's): the account's failures are cleared and the request's
    slot freed. The sign-in stands even when its failures cannot be cleared now."""
    attempt = _request_attempt(request)
    try:
        failures_clear(username=user.get_username(), attempt=attempt)
    except DatabaseError:
        logger.exception("Could not clear the failed sign-ins of user %s", user.pk)
        return
    if attempt is not None:
        attempt.settled = True


def request_abandoned(request: Any) -> None:
    """The request's sign-in attempt ended before a password was checked (its input refused): its slot is
    freed (``attempt_abandon``)."""
    attempt = _request_attempt(request)
    if attempt is not None:
        attempt_abandon(attempt)
