"""Atomic attempt counters in fixed windows (code guessing, registrations, token requests).

``reserve`` counts an attempt against every key at once, or refuses when any key is at its limit; the
check and the increment are one atomic step (a Lua script in Redis, or a conditional UPDATE on
``core.models.ThrottleCounter``), so concurrent attempts cannot slip past the limit. ``release`` gives
the attempt back (a successful redemption is not a failed guess).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core import redis_link
from core.db import retry_on_conflict
from core.models import ThrottleCounter
from core.statements import insert_ignore

_RESERVE_LUA = """
for i, k in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', k) or '0')
  if n >= tonumber(ARGV[i]) then return 0 end
end
for i, k in ipairs(KEYS) do
  if redis.call('INCR', k) == 1 then redis.call('EXPIRE', k, tonumber(ARGV[#KEYS + 1])) end
end
return 1
"""

_RELEASE_LUA = """
for _, k in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', k) or '0')
  if n > 0 then redis.call('DECR', k) end
end
return 1
"""

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Limit:
    key: str
    limit: int
    window: int  # seconds


def parse_rate(rate: str) -> tuple[int, int]:
    """DRF-style rate "10/min" -> (10, 60)."""
    number, period = rate.split("/")
    return int(number), _PERIODS[period.strip()[0].lower()]


def _window_start(window: int, now: datetime) -> int:
    epoch = int(now.timestamp())
    return epoch - epoch % window


def retry_after(limits: list[Limit], now: datetime | None = None) -> int:
    """Seconds until every window of ``limits`` has turned over (the ``Retry-After`` of a refusal)."""
    now = now or timezone.now()
    epoch = int(now.timestamp())
    return max([_window_start(lim.window, now) + lim.window - epoch for lim in limits] + [1])


def _redis_keys(limits: list[Limit], now: datetime) -> list[str]:
    return [f"{settings.CLAIM_GATE_PREFIX}:attempts:{lim.key}:{_window_start(lim.window, now)}" for lim in limits]


def reserve(limits: list[Limit], now: datetime | None = None) -> bool:
    """Count one attempt against every limit, or none when any limit is reached (then False)."""
    now = now or timezone.now()
    client = redis_link.client()
    if client is not None:
        try:
            script = client.register_script(_RESERVE_LUA)
            ttl = max(lim.window for lim in limits) + 5
            return bool(script(keys=_redis_keys(limits, now), args=[lim.limit for lim in limits] + [ttl]))
        except redis.RedisError as exc:
            redis_link.trip(exc)
    return _reserve_in_db(limits, now)


def release(limits: list[Limit], now: datetime | None = None) -> None:
    now = now or timezone.now()
    client = redis_link.client()
    if client is not None:
        try:
            client.register_script(_RELEASE_LUA)(keys=_redis_keys(limits, now))
            return
        except redis.RedisError as exc:
            redis_link.trip(exc)
    for lim in limits:
        ThrottleCounter.objects.filter(key=lim.key, window_start=_db_window(lim.window, now), count__gt=0).update(
            count=F("count") - 1
        )


def _db_window(window: int, now: datetime) -> datetime:
    return datetime.fromtimestamp(_window_start(window, now), tz=UTC)


@retry_on_conflict
def _reserve_in_db(limits: list[Limit], now: datetime) -> bool:
    # One transaction: a refusal by a later key rolls back the earlier increments.
    sql = insert_ignore(ThrottleCounter._meta.db_table, ["key", "window_start", "count"])
    for lim in limits:
        start = _db_window(lim.window, now)
        counter = ThrottleCounter.objects.filter(key=lim.key, window_start=start, count__lt=lim.limit)
        if lim.limit <= 0:
            return False
        if counter.update(count=F("count") + 1):
            continue
        with connection.cursor() as cursor:
            cursor.execute(sql, [lim.key, connection.ops.adapt_datetimefield_value(start), 1])
            if cursor.rowcount == 1:
                continue
        # The row exists (a concurrent first attempt committed it): the conditional UPDATE decides.
        if not counter.update(count=F("count") + 1):
            transaction.set_rollback(True)
            return False
    return True
