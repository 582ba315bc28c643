"""The decorator of the scheduled jobs' Celery tasks."""

from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError


def scheduled_job(name: str) -> Callable[[Callable[..., Any]], Any]:
    """A Beat job's task: idempotent (acks_late is global), retried on database errors with a backoff
    that stays below the broker's visibility timeout."""
    return shared_task(
        name=name,
        autoretry_for=(DatabaseError,),
        retry_backoff=5,
        retry_backoff_max=settings.CELERY_MAX_COUNTDOWN,
        max_retries=5,
    )
