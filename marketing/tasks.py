"""Celery tasks of marketing. Every task is idempotent (acks_late is on: a killed worker's task runs
again) and every retry countdown stays below the broker's visibility timeout."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from core.jobs import scheduled_job
from marketing.models import BulkGrant
from marketing.notifications import notifications_send
from marketing.services.bulk_grants import bulk_grant_announce, bulk_grant_run, bulk_grants_announce_left_behind
from marketing.services.schedules import (
    activities_end_due,
    birthday_packs_grant,
    bulk_grants_start_due,
    expiry_reminders_create,
    pending_triggers_fire,
)
from marketing.triggers import record

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=settings.CELERY_MAX_COUNTDOWN,
    max_retries=20,
)
def run_bulk_grant(self, grant_id: int) -> dict[str, int] | None:
    """Run or resume one bulk grant (see ``marketing.services.bulk_grants``)."""
    grant = BulkGrant.objects.filter(pk=grant_id).first()
    if grant is None:
        return None
    grant = bulk_grant_run(grant=grant)
    return {
        "targeted": grant.targeted,
        "granted": grant.granted,
        "skipped_limit": grant.skipped_limit,
        "skipped_stock": grant.skipped_stock,
        "failed": grant.failed,
    }


@shared_task(
    bind=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=settings.CELERY_MAX_COUNTDOWN,
    max_retries=20,
)
def fire_trigger_task(self, user_id: int, trigger: str, occasion: str) -> None:
    """A gift-pack occasion handed over by an earlier release (it queued failed firings here): written down
    now and fired after that commit, so a message still in the broker at the upgrade is not lost."""
    record([(user_id, trigger, occasion)])


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=5, retry_backoff_max=settings.CELERY_MAX_COUNTDOWN)
def announce_bulk_grant(grant_id: int) -> int:
    """Write the messages of a bulk grant's newly granted customers; safe to run twice at once."""
    return bulk_grant_announce(grant_id=grant_id)


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=5, retry_backoff_max=settings.CELERY_MAX_COUNTDOWN)
def send_notifications(ids: list[int] | None = None) -> int:
    """Send outbox rows (the given ones, or the oldest unsent); safe to run twice at once. The periodic
    run (no ids) first writes the messages of bulk grants whose announcement was left behind."""
    if ids is None:
        bulk_grants_announce_left_behind()
    return notifications_send(ids=ids)


# Scheduled jobs (the Beat schedule is written by core/migrations/0003_beat_schedule.py).


@scheduled_job("marketing.end_activities")
def end_activities() -> int:
    return activities_end_due()


@scheduled_job("marketing.run_due_bulk_grants")
def run_due_bulk_grants() -> int:
    return bulk_grants_start_due()


@scheduled_job("marketing.birthday_packs")
def birthday_packs() -> int:
    return birthday_packs_grant()


@scheduled_job("marketing.expiry_reminders")
def expiry_reminders() -> int:
    return expiry_reminders_create()


@scheduled_job("marketing.fire_pending_triggers")
def fire_pending_triggers() -> int:
    return pending_triggers_fire()
