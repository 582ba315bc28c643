"""The expiry sweep (SPEC 9): UNUSED coupons past their end become EXPIRED.

It works in bounded batches, each its own short transaction, so a run can be killed at any point and
two runs at once never change a row twice.

A batch's cost is linear in its rows (the row locks and the UPDATE's index writes; the commit and the
counters statement are a few milliseconds), so large batches buy no speed and only lengthen how long
rows stay locked. Two rules keep every batch short whatever the load on the machine:

- inside a batch, rows are taken and changed in chunks of ``SWEEP_CHUNK_SIZE``, and the batch takes no
  further chunk that, at the batch's rate so far, would end it past ``BATCH_BUDGET_SECONDS``;
- between batches, the next batch's size is the rows the last one changed per second times
  ``TARGET_BATCH_SECONDS`` (growing at most twofold), so a slow batch shrinks the next one at once.
"""

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from core.db import retry_on_conflict
from coupons.ledger.counters import add_to_counter_of_many
from coupons.ledger.transitions import move
from coupons.models import CouponStatus, UserCoupon

SWEEP_BATCH_SIZE = 2000
MIN_SWEEP_BATCH_SIZE = 500
MAX_SWEEP_BATCH_SIZE = 10_000
# Rows taken and changed by one statement pair inside a batch.
SWEEP_CHUNK_SIZE = 1000
# A batch is sized to take this long, and takes no further chunk that would end it past the budget
# at its rate so far: under the 500 ms a batch (so a row lock) may last.
TARGET_BATCH_SECONDS = 0.25
BATCH_BUDGET_SECONDS = 0.4


@dataclass
class SweepResult:
    changed: int = 0
    batches: int = 0
    longest_batch_seconds: float = 0.0


Key = tuple[datetime, int]


@dataclass
class _Batch:
    changed: int
    last: Key | None


@retry_on_conflict
def _expire_batch(
    now: datetime, batch_size: int, *, after: Key | None, chunk_size: int, budget_seconds: float
) -> _Batch:
    started = time.monotonic()
    batch = _Batch(changed=0, last=after)
    per_template: Counter[int] = Counter()
    while batch.changed < batch_size:
        due = UserCoupon.objects.filter(status=CouponStatus.UNUSED, expires_at__lte=now)
        if batch.last is not None:
            # Start after the last row this run took: the index entries of the rows it changed stay
            # behind (delete-marked until purged) and would otherwise be walked again by every chunk.
            expires_at, row_id = batch.last
            due = due.filter(Q(expires_at__gt=expires_at) | Q(id__gt=row_id), expires_at__gte=expires_at)
        # SKIP LOCKED: a second sweep running at once takes other rows instead of waiting, and rows
        # locked by an order in flight are left alone (they are LOCKED or about to be, not UNUSED; one
        # given back UNUSED is taken by the next run).
        rows = list(
            due.select_for_update(skip_locked=True)
            .order_by("expires_at", "id")
            .values_list("id", "template_id", "expires_at")[: min(chunk_size, batch_size - batch.changed)]
        )
        if not rows:
            break
        ids = [row_id for row_id, _template, _expires in rows]
        batch.changed += move(ids, from_status=CouponStatus.UNUSED, to_status=CouponStatus.EXPIRED, now=now)
        per_template.update(template_id for _id, template_id, _expires in rows)
        batch.last = (rows[-1][2], rows[-1][0])
        # Take the next chunk only if, at this batch's rate so far, it ends within the budget.
        took = time.monotonic() - started
        if took * (batch.changed + chunk_size) >= budget_seconds * max(batch.changed, 1):
            break
    # One statement for every template of the batch (a batch touches many templates). The rows were
    # locked UNUSED by this transaction, so every one of them changed.
    add_to_counter_of_many("expired_count", per_template)
    return batch


def next_batch_size(*, changed: int, took: float) -> int:
    """The size of the batch after one that changed ``changed`` rows in ``took`` seconds: what the same
    rate does in ``TARGET_BATCH_SECONDS``, at most twice ``changed``, within the minimum and maximum."""
    if took <= 0:
        return min(changed * 2, MAX_SWEEP_BATCH_SIZE)
    size = min(int(changed / took * TARGET_BATCH_SECONDS), changed * 2)
    return max(MIN_SWEEP_BATCH_SIZE, min(size, MAX_SWEEP_BATCH_SIZE))


def coupons_expire_due(
    *,
    now: datetime | None = None,
    batch_size: int = SWEEP_BATCH_SIZE,
    max_batches: int | None = None,
    adaptive: bool = True,
    chunk_size: int = SWEEP_CHUNK_SIZE,
    budget_seconds: float = BATCH_BUDGET_SECONDS,
) -> SweepResult:
    """Mark UNUSED coupons past ``expires_at`` as EXPIRED, batch by batch, until none is left.

    A batch changes at most ``batch_size`` rows and takes no further chunk of ``chunk_size`` rows once
    it has run ``budget_seconds``. With ``adaptive`` each batch is sized from the rate of the one
    before (``next_batch_size``), so that each transaction (and so each row lock) stays well under half
    a second whatever the disk and the load.
    """
    now = now or timezone.now()
    result = SweepResult()
    size = batch_size
    last: Key | None = None
    while max_batches is None or result.batches < max_batches:
        started = time.monotonic()
        batch = _expire_batch(now, size, after=last, chunk_size=chunk_size, budget_seconds=budget_seconds)
        took = time.monotonic() - started
        result.longest_batch_seconds = max(result.longest_batch_seconds, took)
        if not batch.changed:
            break
        last = batch.last
        result.changed += batch.changed
        result.batches += 1
        if adaptive:
            size = next_batch_size(changed=batch.changed, took=took)
    return result
