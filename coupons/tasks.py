"""Scheduled coupon jobs: thin tasks over services (SPEC 9). All idempotent; acks_late is global."""

from celery import shared_task
from django.db import OperationalError

from coupons.services.expiry import coupons_expire_due, templates_end_due
from coupons.services.stats import stats_rollup_recent

# Backoff stays far below the broker's visibility timeout (settings.CELERY_BROKER_VISIBILITY_TIMEOUT).
RETRY_ON = (OperationalError,)


@shared_task(
    name="coupons.expire_coupons", autoretry_for=RETRY_ON, retry_backoff=5, retry_backoff_max=300, max_retries=5
)
def expire_coupons() -> int:
    return coupons_expire_due().changed


@shared_task(
    name="coupons.end_templates", autoretry_for=RETRY_ON, retry_backoff=5, retry_backoff_max=300, max_retries=5
)
def end_templates() -> int:
    return templates_end_due()


@shared_task(name="coupons.rollup_stats", autoretry_for=RETRY_ON, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def rollup_stats() -> int:
    return stats_rollup_recent()
