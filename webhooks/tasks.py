"""Celery tasks of webhooks. Idempotent (acks_late is global): a delivery is sent only by whoever claims
it as the request starts, so a task run twice, or queued again by the every-minute job, sends nothing
twice at once, and a task that waits in the queue uses up no attempt."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from core.jobs import scheduled_job
from webhooks.services.delivery import deliveries_due, delivery_send
from webhooks.services.outbox import take_pending

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=5, retry_backoff_max=settings.CELERY_MAX_COUNTDOWN)
def deliver_webhook(delivery_id: int, attempt: int | None = None) -> str | None:
    """Send one delivery if it is due (claiming it then); a failure schedules the next attempt here when
    its wait is below the countdown limit, and the job sends it in any case.

    ``attempt`` is ignored: it comes from tasks queued before the job stopped claiming, and a claim of
    theirs that no one sends is taken over once it is older than WEBHOOK_CLAIM_TIMEOUT."""
    outcome = delivery_send(delivery_id=delivery_id)
    if outcome is None:
        return None
    if outcome.retry_in is not None and outcome.retry_in <= settings.CELERY_MAX_COUNTDOWN:
        enqueue_delivery(delivery_id, countdown=outcome.retry_in)
    return outcome.status


def enqueue_delivery(delivery_id: int, *, countdown: float | None = None) -> None:
    try:
        deliver_webhook.apply_async((delivery_id,), countdown=countdown or 0)
    except Exception:  # the every-minute job sends what the broker did not take
        logger.exception("could not enqueue webhook delivery %s", delivery_id)


def enqueue_pending_deliveries(**_event: Any) -> None:
    """After the commit of a transaction that emitted events: hand its new deliveries to the broker."""
    for delivery_id in take_pending():
        enqueue_delivery(delivery_id)


@scheduled_job("webhooks.send_due_deliveries")
def send_due_deliveries() -> int:
    """Queue the deliveries whose retry is due, that the broker never took, or whose sender died
    mid-request. One still waiting in the queue from an earlier run is queued again: the first of its
    tasks to run sends it, and the others find nothing to do until it is due again."""
    due = deliveries_due()
    for delivery_id in due:
        enqueue_delivery(delivery_id)
    return len(due)
