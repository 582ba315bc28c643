"""Celery tasks of webhooks. Idempotent (acks_late is global): a delivery is sent only by whoever claims
it, so a task run twice, or beside the every-minute job, sends nothing twice at once."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from core.jobs import scheduled_job
from webhooks.services.delivery import deliveries_claim_due, delivery_send
from webhooks.services.outbox import take_pending

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=5, retry_backoff_max=settings.CELERY_MAX_COUNTDOWN)
def deliver_webhook(delivery_id: int, attempt: int | None = None) -> str | None:
    """Send one delivery (claiming it, unless the job claimed it as ``attempt``); a failure schedules the
    next attempt here when its wait is below the countdown limit, and the job sends it in any case."""
    outcome = delivery_send(delivery_id=delivery_id, attempt=attempt)
    if outcome is None:
        return None
    if outcome.retry_in is not None and outcome.retry_in <= settings.CELERY_MAX_COUNTDOWN:
        enqueue_delivery(delivery_id, countdown=outcome.retry_in)
    return outcome.status


def enqueue_delivery(delivery_id: int, *, attempt: int | None = None, countdown: float | None = None) -> None:
    try:
        deliver_webhook.apply_async((delivery_id, attempt), countdown=countdown or 0)
    except Exception:  # the every-minute job sends what the broker did not take
        logger.exception("could not enqueue webhook delivery %s", delivery_id)


def enqueue_pending_deliveries(**_event: Any) -> None:
    """After the commit of a transaction that emitted events: hand its new deliveries to the broker."""
    for delivery_id in take_pending():
        enqueue_delivery(delivery_id)


@scheduled_job("webhooks.send_due_deliveries")
def send_due_deliveries() -> int:
    """Deliveries whose retry is due, that the broker never took, or whose sender died mid-request."""
    claimed = deliveries_claim_due()
    for delivery_id, attempt in claimed:
        enqueue_delivery(delivery_id, attempt=attempt)
    return len(claimed)
