"""Idempotency records past their replay window and old throttle counters are purged by a Beat job."""

from datetime import timedelta

import pytest
from django.core.management.sql import emit_post_migrate_signal
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.celery_app import app
from core.housekeeping import records_purge_expired
from core.models import IdempotencyRecord, ThrottleCounter
from core.schedule import SCHEDULE
from core.tasks import purge_expired_records
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def record(user, key: str, age: timedelta) -> IdempotencyRecord:
    row = IdempotencyRecord.objects.create(user=user, key=key, method="POST", path="/x", request_hash="h")
    IdempotencyRecord.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def test_expired_records_and_old_counters_go_and_the_rest_stay(settings):
    settings.IDEMPOTENCY_TTL_HOURS = 24
    user = UserFactory()
    for i in range(7):
        record(user, f"old-{i}", timedelta(hours=25))
    fresh = record(user, "fresh", timedelta(hours=23))
    now = timezone.now()
    ThrottleCounter.objects.create(key="redeem:ip:1", window_start=now - timedelta(days=3), count=4)
    current = ThrottleCounter.objects.create(key="redeem:ip:1", window_start=now - timedelta(minutes=1), count=2)

    assert records_purge_expired(batch=3) == {"idempotency_records": 7, "throttle_counters": 1}

    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert list(ThrottleCounter.objects.values_list("pk", flat=True)) == [current.pk]
    assert purge_expired_records.apply().get() == {"idempotency_records": 0, "throttle_counters": 0}


def test_every_scheduled_job_is_installed_and_is_a_registered_task():
    app.loader.import_default_modules()
    installed = dict(PeriodicTask.objects.values_list("name", "task"))
    for name, (task, _kind, _spec) in SCHEDULE.items():
        assert installed.get(name) == task
        assert task in app.tasks, task


@pytest.mark.django_db(transaction=True)
def test_a_flushed_database_gets_the_schedule_back():
    # given: a flush (as between transactional tests, or `manage.py flush`) emptied the schedule
    PeriodicTask.objects.all().delete()

    # when: flush ends, it sends post_migrate
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    # then
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == set(SCHEDULE)


@pytest.mark.django_db(transaction=True)
def test_a_job_deleted_on_purpose_stays_deleted():
    PeriodicTask.objects.filter(name="Stats roll-up").delete()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert set(PeriodicTask.objects.values_list("name", flat=True)) == set(SCHEDULE) - {"Stats roll-up"}
