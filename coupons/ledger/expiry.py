"""The expiry sweep: UNUSED coupons past their end become EXPIRED.

It works in bounded batches, each its own short transaction, so a run can be killed at any point and
two runs at once never change a row twice.

A batch is two steps:

- outside any transaction, a plain (non-locking) read takes the ids of the next due coupons in
  ``(expires_at, id)`` order from the sweep index. The rows swept a moment ago, by this run or by anyone
  else, stay in that index as delete-marked entries until purge removes them; a consistent read passes
  over them cheaply, while a locking read must try a lock on each one inside its transaction, which
  right after a large expiry made a run's first batch hold its locks for seconds;
- in the batch's transaction, those rows are locked by primary key, only if still UNUSED and due and
  not locked by anyone else (SKIP LOCKED), then moved and counted. A row that changed or was held in
  between is left; the next run, which starts from the beginning, takes it if it is UNUSED again.

A batch's cost is linear in its rows (the row locks and the UPDATE's index writes; the commit and the
counters statement are a few milliseconds), so large batches buy no speed and only lengthen how long
rows stay locked. Two rules keep every batch short whatever the load on the machine:

- inside a batch, rows are locked and changed in chunks of a quarter of the batch (``CHUNKS_PER_BATCH``,
  at most ``SWEEP_CHUNK_SIZE`` rows), and the batch takes no further chunk that, at the batch's rate so
  far, would end it past ``BATCH_BUDGET_SECONDS``;
- between batches, the next batch's size is the rows the last one handled per second times
  ``TARGET_BATCH_SECONDS`` (growing at most twofold), so a slow batch shrinks the next one at once.
"""

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection
from django.db.models import CharField, Q
from django.db.models.functions import Cast
from django.utils import timezone

from core.db import retry_on_conflict
from core.rows import placeholders
from core.statements import quote
from coupons.ledger.counters import add_to_counter_of_many
from coupons.ledger.transitions import move
from coupons.models import CouponStatus, UserCoupon

SWEEP_BATCH_SIZE = 2000
MIN_SWEEP_BATCH_SIZE = 500
MAX_SWEEP_BATCH_SIZE = 10_000
# Rows locked and changed by one statement pair inside a batch.
SWEEP_CHUNK_SIZE = 1000
# A batch is taken in at least this many chunks (of at most SWEEP_CHUNK_SIZE rows), so that a batch
# slowed down midway overruns its budget by a fraction of its size, not by a whole chunk of 1000 rows.
CHUNKS_PER_BATCH = 4
# A batch is sized to take this long, and takes no further chunk that would end it past the budget
# at its rate so far: under the 500 ms a batch (so a row lock) may last, with room for a last chunk
# slower than the ones before it, the counters and the commit.
TARGET_BATCH_SECONDS = 0.25
BATCH_BUDGET_SECONDS = 0.35


@dataclass
class SweepResult:
    changed: int = 0
    batches: int = 0
    # The longest batch transaction, from its start to its commit (retries after a deadlock included):
    # the longest any row lock of the run was held. The reads of candidates outside it are not counted.
    longest_batch_seconds: float = 0.0


Key = tuple[datetime, int]
# A coupon to sweep: its expires_at as text (see ``_candidates``) and its id.
Candidate = tuple[str, int]


@dataclass
class _Batch:
    changed: int
    # How many of the candidates the batch handled (locked and changed, or left): the ones after are
    # read again for the next batch.
    handled: int


def _candidates(now: datetime, *, after: Key | None, limit: int) -> list[Candidate]:
    """Up to ``limit`` coupons due at ``now``, after ``after`` in ``(expires_at, id)`` order: a consistent
    read of the sweep index alone (it holds both), taking no lock."""
    due = UserCoupon.objects.filter(status=CouponStatus.UNUSED, expires_at__lte=now)
    if after is not None:
        # Start after the last row this run handled: the entries of the rows it changed stay behind
        # (delete-marked until purged) and would otherwise be passed over again by every read.
        expires_at, row_id = after
        due = due.filter(Q(expires_at__gt=expires_at) | Q(id__gt=row_id), expires_at__gte=expires_at)
    # expires_at as the database writes it: only the last candidate a batch handles needs it as a
    # datetime, and the driver's parsing of every one was most of the read's time.
    text = Cast("expires_at", output_field=CharField())
    return list(due.order_by("expires_at", "id").values_list(text, "id")[:limit])


def _key(candidate: Candidate) -> Key:
    """The ``(expires_at, id)`` of a candidate, to read the next ones after it."""
    text, row_id = candidate
    return timezone.make_aware(datetime.fromisoformat(text), connection.timezone), row_id


@cache
def _lock_sql(vendor: str) -> str:
    """The locking read of a chunk of candidates (``{ids}``: their placeholders); built once.

    By primary key alone: on MySQL/MariaDB the statement names the index, because for a short list the
    optimizer may take the sweep index's range of due rows instead and walk it, delete-marked entries
    and all, under locks (seen with 3 ids and some 28,000 such entries in the range: 40 ms where the
    primary key takes under 1 ms).

    SKIP LOCKED: a second sweep running at once takes other rows instead of waiting, and rows locked by
    an order in flight are left alone (they are LOCKED or about to be, not UNUSED; one given back UNUSED
    is taken by the next run).
    """
    table, pk = quote(UserCoupon._meta.db_table), quote(UserCoupon._meta.pk.column)
    index = " FORCE INDEX (PRIMARY)" if vendor == "mysql" else ""
    lock = " FOR UPDATE SKIP LOCKED" if vendor in ("mysql", "postgresql") else ""
    return (
        f"SELECT {pk}, {quote('template_id')} FROM {table}{index} WHERE {pk} IN ({{ids}})"
        f" AND {quote('status')} = %s AND {quote('expires_at')} <= %s{lock}"
    )


def _lock_due(ids: list[int], now: datetime) -> list[tuple[int, int]]:
    """Lock those of the coupons ``ids`` that are still UNUSED and due at ``now`` and held by no one
    else (the candidates were read without a lock); their ``(id, template_id)``."""
    sql = _lock_sql(connection.vendor).format(ids=placeholders(len(ids)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, CouponStatus.UNUSED, connection.ops.adapt_datetimefield_value(now)])
        return [(row_id, template_id) for row_id, template_id in cursor.fetchall()]


@retry_on_conflict
def _expire_batch(now: datetime, candidates: list[Candidate], *, chunk_size: int, budget_seconds: float) -> _Batch:
    started = time.monotonic()
    batch = _Batch(changed=0, handled=0)
    per_template: Counter[int] = Counter()
    while batch.handled < len(candidates):
        chunk = [row_id for _expires, row_id in candidates[batch.handled : batch.handled + chunk_size]]
        rows = _lock_due(chunk, now)
        if rows:
            ids = [row_id for row_id, _template in rows]
            batch.changed += move(ids, from_status=CouponStatus.UNUSED, to_status=CouponStatus.EXPIRED, now=now)
            per_template.update(template_id for _id, template_id in rows)
        batch.handled += len(chunk)
        # Take the next chunk only if, at this batch's rate so far, it ends within the budget.
        took = time.monotonic() - started
        if took * (batch.handled + chunk_size) >= budget_seconds * batch.handled:
            break
    # One statement for every template of the batch (a batch touches many templates). The rows were
    # locked UNUSED by this transaction, so every one of them changed.
    add_to_counter_of_many("expired_count", per_template)
    return batch


def next_batch_size(*, handled: int, took: float) -> int:
    """The size of the batch after one that handled ``handled`` rows in ``took`` seconds: what the same
    rate does in ``TARGET_BATCH_SECONDS``, at most twice ``handled``, within the minimum and maximum."""
    if took <= 0:
        return min(handled * 2, MAX_SWEEP_BATCH_SIZE)
    size = min(int(handled / took * TARGET_BATCH_SECONDS), handled * 2)
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

    A batch handles at most ``batch_size`` rows, in chunks of a quarter of its size but at most
    ``chunk_size`` rows, and takes no further chunk that would end it past ``budget_seconds``. With
    ``adaptive`` each batch is sized from the rate of the one before (``next_batch_size``), so that
    each transaction (and so each row lock) stays well under half a second whatever the disk and the
    load. ``longest_batch_seconds`` of the result is the longest
    batch transaction, which the reads of the candidates before each batch are not part of.
    """
    now = now or timezone.now()
    result = SweepResult()
    size = batch_size
    after: Key | None = None
    while max_batches is None or result.batches < max_batches:
        candidates = _candidates(now, after=after, limit=size)
        if not candidates:
            break
        started = time.monotonic()
        chunk = min(chunk_size, -(-size // CHUNKS_PER_BATCH))
        batch = _expire_batch(now, candidates, chunk_size=chunk, budget_seconds=budget_seconds)
        took = time.monotonic() - started
        result.longest_batch_seconds = max(result.longest_batch_seconds, took)
        after = _key(candidates[batch.handled - 1])
        result.changed += batch.changed
        result.batches += 1
        if adaptive:
            size = next_batch_size(handled=batch.handled, took=took)
    return result
