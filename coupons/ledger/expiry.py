"""The expiry sweep (SPEC 9): UNUSED coupons past their end become EXPIRED.

It works in bounded batches, each its own short transaction, so a run can be killed at any point and
two runs at once never change a row twice.
"""

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from core.db import retry_on_conflict
from coupons.ledger.counters import add_to_counter_of_many
from coupons.ledger.transitions import move
from coupons.models import CouponStatus, UserCoupon

SWEEP_BATCH_SIZE = 2000
MIN_SWEEP_BATCH_SIZE = 500
MAX_SWEEP_BATCH_SIZE = 20_000
# A batch aims at this duration: long enough to amortise its commit, far below the 1 s lock budget.
TARGET_BATCH_SECONDS = 0.4


@dataclass
class SweepResult:
    changed: int = 0
    batches: int = 0
    longest_batch_seconds: float = 0.0


@retry_on_conflict
def _expire_batch(now: datetime, batch_size: int) -> int:
    # SKIP LOCKED: a second sweep running at once takes other rows instead of waiting, and rows locked
    # by an order in flight are left alone (they are LOCKED or about to be, not UNUSED).
    rows = list(
        UserCoupon.objects.select_for_update(skip_locked=True)
        .filter(status=CouponStatus.UNUSED, expires_at__lte=now)
        .order_by("expires_at", "id")
        .values_list("id", "template_id")[:batch_size]
    )
    if not rows:
        return 0
    ids = [row_id for row_id, _template in rows]
    changed = move(ids, from_status=CouponStatus.UNUSED, to_status=CouponStatus.EXPIRED, now=now)
    # One statement for every template of the batch (a batch touches many templates).
    add_to_counter_of_many("expired_count", Counter(template_id for _id, template_id in rows))
    return changed


def coupons_expire_due(
    *,
    now: datetime | None = None,
    batch_size: int = SWEEP_BATCH_SIZE,
    max_batches: int | None = None,
    adaptive: bool = True,
) -> SweepResult:
    """Mark UNUSED coupons past ``expires_at`` as EXPIRED, batch by batch, until none is left.

    With ``adaptive`` the batch grows while batches stay short and shrinks when one gets long, so that
    each transaction (and so each row lock) stays well under a second whatever the disk, while a fast
    disk is not held to many small commits.
    """
    now = now or timezone.now()
    result = SweepResult()
    size = batch_size
    while max_batches is None or result.batches < max_batches:
        started = time.monotonic()
        changed = _expire_batch(now, size)
        took = time.monotonic() - started
        result.longest_batch_seconds = max(result.longest_batch_seconds, took)
        if not changed:
            break
        result.changed += changed
        result.batches += 1
        if adaptive:
            if took < TARGET_BATCH_SECONDS / 2:
                size = min(size * 2, MAX_SWEEP_BATCH_SIZE)
            elif took > TARGET_BATCH_SECONDS:
                size = max(size // 2, MIN_SWEEP_BATCH_SIZE)
    return result
