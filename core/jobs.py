"""The decorator of the scheduled jobs' Celery tasks."""

from collections.abc import Callable
from typing import Any

from celery import current_app, shared_task
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


def enqueue(task_name: str, *args: Any) -> None:
    """``delay`` the Celery task registered as ``task_name``: a service hands work to its app's tasks
    without importing them (the tasks module imports the services it runs)."""
    current_app.tasks[task_name].delay(*args)
