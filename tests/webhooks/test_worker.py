"""Deliveries through a real Celery worker on the Redis broker, to a real receiver: retries with
backoff, and a worker killed with SIGKILL in the middle of a request (sent again: at least once)."""

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from core.events import Event, emit
from tests.test_celery_integration import _wait_for, celery_processes  # noqa: F401  (the fixture)
from tests.webhooks.receiver import Receiver
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from webhooks.services.delivery import deliveries_due
from webhooks.services.endpoints import endpoint_create
from webhooks.tasks import send_due_deliveries

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="the worker runs on the Redis broker"),
]


def _bulk_grant_done(receiver, actor):
    endpoint = endpoint_create(actor=actor, url=receiver.url, event_types=["bulk_grant.done"])
    receiver.secret = endpoint.secret
    with transaction.atomic():
        emit(Event.BULK_GRANT_DONE, bulk_grant_id=9, granted=3000, skipped=0)
    return WebhookDelivery.objects.get()


def test_a_worker_retries_with_backoff_until_the_receiver_takes_it(celery_processes, operations_user):  # noqa: F811
    processes = celery_processes(WEBHOOK_RETRY_BASE_SECONDS="1")
    processes.worker()
    with Receiver(answers=[500, 500]) as receiver:
        # when: the event commits (its delivery is handed to the broker after the commit)
        delivery = _bulk_grant_done(receiver, operations_user)

        # then: the worker sends it, fails twice, waits 1 s then 2 s, and delivers on the third attempt
        try:
            _wait_for(
                lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED,
                60,
                "the third attempt",
            )
        except AssertionError:
            raise AssertionError(processes.logs()) from None

    assert [r.answered for r in receiver.requests] == [500, 500, 200]
    assert all(r.valid_signature for r in receiver.requests)
    assert {r.headers["X-Webhook-Id"] for r in receiver.requests} == {str(delivery.event_id)}
    delivery.refresh_from_db()
    assert delivery.attempts == 3
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert (attempts[1].started_at - attempts[0].started_at).total_seconds() >= 1
    assert (attempts[2].started_at - attempts[1].started_at).total_seconds() >= 2


def test_a_worker_killed_mid_delivery_leaves_it_to_the_job_and_it_is_sent_again(celery_processes, operations_user):  # noqa: F811
    processes = celery_processes(WEBHOOK_CLAIM_TIMEOUT="2")  # the workers' own; here it stays 60 s
    processes.worker()
    with Receiver(hold={1}) as receiver:
        # given: the worker is in the middle of sending (the receiver holds the request open)
        delivery = _bulk_grant_done(receiver, operations_user)
        if not receiver.arrived.wait(60):
            raise AssertionError(processes.logs())

        # when: the whole worker is killed with SIGKILL
        processes.kill("worker")
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENDING, 1)
        # a claim younger than WEBHOOK_CLAIM_TIMEOUT may still be in flight: left alone
        assert deliveries_due() == []

        # then: once the claim is older than the timeout, the every-minute job (run as Beat runs it)
        # queues it again, and a new worker takes the claim over and sends it
        processes.worker("worker2")
        with override_settings(WEBHOOK_CLAIM_TIMEOUT=2):
            _wait_for(lambda: deliveries_due() == [delivery.pk], 30, "the claim to age")
            assert send_due_deliveries.apply().get() == 1
        try:
            _wait_for(
                lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED,
                60,
                "the delivery sent again",
            )
        except AssertionError:
            raise AssertionError(processes.logs()) from None

    # delivered at least once, never lost: the receiver saw the event twice, with one event id to dedupe
    assert len(receiver.requests) == 2
    assert all(r.valid_signature for r in receiver.requests)
    assert {r.headers["X-Webhook-Id"] for r in receiver.requests} == {str(delivery.event_id)}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 2, 200)
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "status_code")) == [(2, 200)]
