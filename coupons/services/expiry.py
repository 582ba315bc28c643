"""The expiry sweep and the end of templates whose claim window is over (SPEC 9).

Both work in bounded batches, each its own short transaction, so a run can be killed at any point and
two runs at once never change a row twice.
"""

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, F, Value, When
from django.utils import timezone

from core.db import retry_on_conflict
from core.errors import InvalidTransition
from coupons.models import CouponStatus, CouponTemplate, TemplateStatus, UserCoupon

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
    changed = UserCoupon.objects.filter(id__in=ids, status=CouponStatus.UNUSED).update(
        status=CouponStatus.EXPIRED, updated_at=now
    )
    per_template = Counter(template_id for _id, template_id in rows)
    # One statement for every template of the batch (a batch touches many templates).
    CouponTemplate.objects.filter(pk__in=sorted(per_template)).update(
        expired_count=F("expired_count")
        + Case(*(When(pk=pk, then=Value(n)) for pk, n in per_template.items()), default=Value(0))
    )
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


def templates_end_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """APPROVED templates whose claim window is over become ENDED (one audited transition each)."""
    from coupons.services.templates import template_end

    now = now or timezone.now()
    ended = 0
    due = CouponTemplate.objects.filter(status=TemplateStatus.APPROVED, issue_end_time__lte=now).order_by("id")
    for template in due[:limit]:
        try:
            template_end(template=template)
        except InvalidTransition:
            continue  # another run (or a person) moved it first
        ended += 1
    return ended
