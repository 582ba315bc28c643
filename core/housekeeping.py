"""Rows that only matter for a while: idempotency records past their replay window and throttle
counters of windows long over. Deleted in primary-key batches, so no transaction grows large."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils import timezone

from core.models import IdempotencyRecord, ThrottleCounter

PURGE_BATCH = 5_000
# The longest throttle window is a day ("N/day"); a counter whose window started two days ago is over.
THROTTLE_KEEP = timedelta(days=2)


def _delete_in_batches(rows: "QuerySet[Model]", batch: int) -> int:
    deleted = 0
    while True:
        ids = list(rows.order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += rows.model._default_manager.filter(pk__in=ids).delete()[0]


def records_purge_expired(*, now: datetime | None = None, batch: int = PURGE_BATCH) -> dict[str, int]:
    """Delete idempotency records older than ``IDEMPOTENCY_TTL_HOURS`` and old throttle counters."""
    now = now or timezone.now()
    return {
        "idempotency_records": _delete_in_batches(
            IdempotencyRecord.objects.filter(created_at__lt=now - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)),
            batch,
        ),
        "throttle_counters": _delete_in_batches(
            ThrottleCounter.objects.filter(window_start__lt=now - THROTTLE_KEEP), batch
        ),
    }
