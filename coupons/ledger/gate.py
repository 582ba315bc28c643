"""The claim admission gate: Redis turns away claims it knows are refused, before the database.

One Redis hash per template holds what is known for certain: ``total``, a lower bound of the committed
``issued`` count, the issue window and whether the template is closed (stopped or ended, both final).
A claim is turned away only when that knowledge proves it would fail: ``issued + n > total`` (the
issued count never goes down and the total of an approved template never changes) or the template is
closed. Everything else is admitted and the database decides, so the gate can be flushed, restarted or
down without a wrong answer:

- the entry is loaded when a template is approved (``coupons.receivers``) and rebuilt from the
  database when missing;
- ``issued`` is only ever raised, to a value the database committed: after the commit of the claim
  that took the last coupon (with the count the stock UPDATE returned), and when the database refused
  a claim as sold out. The bound never runs ahead of the truth;
- any Redis error switches the gate off for a few seconds in this process (the database path alone
  is exact).

Each process also remembers final refusals (sold out, closed: they never change back) and, for a
tenth of a second, that a template admits: a sell-out then costs no Redis call either, and a busy
template one Redis call per process per 100 ms.

The gate is on when ``settings.REDIS_URL`` is set and ``settings.CLAIM_GATE`` is true, read at call time.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone

from core import redis_link
from coupons.models import UNLIMITED, CouponTemplate, TemplateStatus

ADMIT = "admit"
SOLD_OUT = "sold_out"
CLOSED = "closed"
NOT_STARTED = "not_started"
UNKNOWN = "unknown"
# Refusals that stay true forever: the issued count never goes down, the total of an approved template
# never changes, and a stopped or ended template never reopens. This process remembers them and
# answers again without Redis.
FINAL = frozenset({SOLD_OUT, CLOSED})
MEMO_SIZE = 10_000
_final: dict[int, str] = {}
# An admitted template is admitted again without asking Redis for this long: admitting only sends the
# claim on to the database, which decides, so a short-lived local "admit" is never a wrong answer.
ADMIT_MEMO_SECONDS = 0.1
_admitted: dict[int, float] = {}

KEY_TTL_SECONDS = 24 * 3600

_ADMIT_LUA = """
local h = redis.call('HMGET', KEYS[1], 'state', 'total', 'issued', 'start', 'end')
if not h[1] then return 'unknown' end
if h[1] == 'closed' then return 'closed' end
local now = tonumber(ARGV[2])
if h[4] ~= false and h[4] ~= '' and now < tonumber(h[4]) then return 'not_started' end
if h[5] ~= false and h[5] ~= '' and now >= tonumber(h[5]) then return 'closed' end
local total = tonumber(h[2])
if total >= 0 and tonumber(h[3]) + tonumber(ARGV[1]) > total then return 'sold_out' end
return 'admit'
"""

# Load an entry: a closed entry stays closed, and the issued bound only goes up.
_LOAD_LUA = """
local cur = redis.call('HMGET', KEYS[1], 'state', 'issued')
if cur[1] == 'closed' then return 0 end
local issued = tonumber(ARGV[3])
if cur[2] and tonumber(cur[2]) > issued then issued = tonumber(cur[2]) end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'total', ARGV[2], 'issued', issued, 'start', ARGV[4], 'end', ARGV[5])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return 1
"""

_RECORD_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'issued') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'issued', ARGV[1]) end
return 1
"""

_CLOSE_LUA = """
redis.call('HSET', KEYS[1], 'state', 'closed')
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""


class _Scripts:
    def __init__(self, client: redis.Redis) -> None:
        self.admit = client.register_script(_ADMIT_LUA)
        self.load = client.register_script(_LOAD_LUA)
        self.record = client.register_script(_RECORD_LUA)
        self.close = client.register_script(_CLOSE_LUA)


_scripts: dict[int, _Scripts] = {}


def enabled() -> bool:
    return redis_link.configured() and getattr(settings, "CLAIM_GATE", True)


def key(template_id: int) -> str:
    return f"{settings.CLAIM_GATE_PREFIX}:tpl:{template_id}"


def _epoch(value: datetime | None) -> str:
    return "" if value is None else f"{value.timestamp():.6f}"


def _call(script_name: str, template_id: int, *args: Any) -> Any:
    client = redis_link.client() if enabled() else None
    if client is None:
        return None
    scripts = _scripts.get(id(client))
    if scripts is None:
        scripts = _scripts.setdefault(id(client), _Scripts(client))
    try:
        result = getattr(scripts, script_name)(keys=[key(template_id)], args=list(args))
    except redis.RedisError as exc:
        redis_link.trip(exc)
        return None
    return result.decode() if isinstance(result, bytes) else result


def admit(template_id: int, quantity: int = 1, now: datetime | None = None) -> str:
    """``ADMIT`` (go on to the database), or ``SOLD_OUT``, ``CLOSED``, ``NOT_STARTED`` (refuse without
    the database).

    A missing entry is rebuilt from the database first. With the gate off, always ``ADMIT``.
    """
    if not enabled():
        return ADMIT
    known = _final.get(template_id)
    if known is not None:
        return known
    if quantity == 1 and _admitted.get(template_id, 0.0) > time.monotonic():
        return ADMIT
    now = now or timezone.now()
    verdict = _call("admit", template_id, quantity, f"{now.timestamp():.6f}")
    if verdict is None:
        return ADMIT
    if verdict != UNKNOWN:
        return _remember(template_id, quantity, str(verdict))
    template = (
        CouponTemplate.objects.filter(pk=template_id)
        .only("status", "total_quantity", "issued_quantity", "issue_start_time", "issue_end_time")
        .first()
    )
    if template is None or not load(template):
        return ADMIT
    verdict = _call("admit", template_id, quantity, f"{now.timestamp():.6f}")
    return ADMIT if verdict in (None, UNKNOWN) else _remember(template_id, quantity, str(verdict))


def _remember(template_id: int, quantity: int, verdict: str) -> str:
    if verdict == ADMIT:
        if len(_admitted) >= MEMO_SIZE:
            _admitted.clear()
        _admitted[template_id] = time.monotonic() + ADMIT_MEMO_SECONDS
        return verdict
    # Sold out for one coupon means none is left: final whatever is asked next.
    if verdict == CLOSED or (verdict == SOLD_OUT and quantity == 1):
        if len(_final) >= MEMO_SIZE:
            _final.clear()
        _final[template_id] = verdict
    return verdict


def forget() -> None:
    """Drop this process's memory of verdicts (tests reuse ids after a flush)."""
    _final.clear()
    _admitted.clear()


def load(template: CouponTemplate) -> bool:
    """Write what the database says about ``template`` (read at READ COMMITTED: committed values).

    Only approved and final (stopped, ended) templates are cached; a draft may still be approved.
    """
    if template.status in (TemplateStatus.STOPPED, TemplateStatus.ENDED):
        return _call("close", template.pk, KEY_TTL_SECONDS) is not None
    if template.status != TemplateStatus.APPROVED:
        return False
    total = UNLIMITED if template.total_quantity == UNLIMITED else template.total_quantity
    result = _call(
        "load",
        template.pk,
        "open",
        total,
        template.issued_quantity,
        _epoch(template.issue_start_time),
        _epoch(template.issue_end_time),
        KEY_TTL_SECONDS,
    )
    return result is not None


def record_issued(template_id: int, issued: int) -> None:
    """Raise the entry's issued bound to a count the database committed."""
    _admitted.pop(template_id, None)
    _call("record", template_id, issued)


def close(template_id: int) -> None:
    _admitted.pop(template_id, None)
    _call("close", template_id, KEY_TTL_SECONDS)


def forget_or_close(template: CouponTemplate) -> None:
    """After the database refused a claim as not claimable: close a final template's entry."""
    if template.status in (TemplateStatus.STOPPED, TemplateStatus.ENDED):
        close(template.pk)
