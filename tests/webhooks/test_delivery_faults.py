"""A sender that fails in a way of its own (an exception no request error explains), or dies on the last
attempt: the delivery still follows the rules of every failed attempt, backoff and the attempt limit, and
ends FAILED with each attempt logged, rather than staying SENDING and being sent again without end."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core.events import Event, emit
from tests.webhooks.receiver import Receiver
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from webhooks.services import delivery as delivery_services
from webhooks.services.delivery import deliveries_due, delivery_send
from webhooks.services.endpoints import endpoint_create

pytestmark = pytest.mark.django_db(transaction=True)

LOST = "The sender of the last attempt was lost before it recorded an answer."


def _paid(order_id=42):
    with transaction.atomic():
        emit(Event.ORDER_PAID, order_id=order_id, user_id=7, total="88.50")
    return WebhookDelivery.objects.get(payload__order_id=order_id)


def test_an_exception_in_the_sender_is_a_failed_attempt_until_the_last_one(operations_user, settings, monkeypatch):
    # given: a sender that raises what no request error explains, on every attempt
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.WEBHOOK_MAX_ATTEMPTS = 3

    def broken_post(url, body, headers):
        raise RuntimeError("the HTTP library broke")

    monkeypatch.setattr(delivery_services, "_post", broken_post)
    endpoint_create(actor=operations_user, url="http://127.0.0.1:9/hooks", event_types=["order.paid"])
    delivery = _paid()

    # when: it is sent, each retry made due as the job would find it after its wait
    outcomes = []
    for _ in range(4):
        outcomes.append(delivery_send(delivery_id=delivery.pk))
        WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
            next_attempt_at=timezone.now()
        )

    # then: each attempt failed, was logged and backed off, and the last one ended the delivery
    assert [(o.status, o.retry_in) if o else None for o in outcomes] == [
        (DeliveryStatus.PENDING, 30),
        (DeliveryStatus.PENDING, 60),
        (DeliveryStatus.FAILED, None),
        None,
    ]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.claimed_at) == (DeliveryStatus.FAILED, 3, None)
    assert delivery.last_error == "RuntimeError: the HTTP library broke"
    log = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "status_code", "error"))
    assert log == [(n, None, "RuntimeError: the HTTP library broke") for n in (1, 2, 3)]
    assert deliveries_due() == []


def test_an_exception_while_signing_is_logged_without_the_secret(operations_user, settings, monkeypatch):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0

    def broken_sign(*, secret, timestamp, body):
        raise ValueError(f"cannot sign with {secret}")

    monkeypatch.setattr(delivery_services, "sign", broken_sign)
    endpoint = endpoint_create(actor=operations_user, url="http://127.0.0.1:9/hooks", event_types=["order.paid"])
    delivery = _paid()

    outcome = delivery_send(delivery_id=delivery.pk)

    assert outcome is not None and outcome.status == DeliveryStatus.PENDING
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.error == "ValueError: cannot sign with [secret]"
    assert endpoint.secret not in attempt.error
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING


def test_a_sender_lost_on_the_last_attempt_fails_the_delivery_instead_of_sending_it_again(operations_user, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    with Receiver() as receiver:
        endpoint = endpoint_create(actor=operations_user, url=receiver.url, event_types=["order.paid"])
        receiver.secret = endpoint.secret
        # given: two claims abandoned minutes ago, one on the last attempt, one on the attempt before it
        last, earlier = _paid(1), _paid(2)
        claimed_at = timezone.now() - timedelta(minutes=5)
        WebhookDelivery.objects.filter(pk=last.pk).update(
            status=DeliveryStatus.SENDING, attempts=3, claimed_at=claimed_at
        )
        WebhookDelivery.objects.filter(pk=earlier.pk).update(
            status=DeliveryStatus.SENDING, attempts=2, claimed_at=claimed_at
        )
        assert sorted(deliveries_due()) == [last.pk, earlier.pk]  # the job queues both

        # when: the workers take them up
        outcomes = [delivery_send(delivery_id=d.pk) for d in (last, earlier)]

        # then: the one on its last attempt ends FAILED, unsent, with the lost attempt logged; the other is
        # sent again, as its last attempt
        assert [o.status if o else None for o in outcomes] == [DeliveryStatus.FAILED, DeliveryStatus.DELIVERED]
        assert [r.json["data"]["order_id"] for r in receiver.requests] == [2]

    last.refresh_from_db()
    assert (last.status, last.attempts, last.claimed_at, last.next_attempt_at) == (DeliveryStatus.FAILED, 3, None, None)
    assert (last.last_error, last.last_status_code) == (LOST, None)
    (attempt,) = WebhookAttempt.objects.filter(delivery=last)
    assert (attempt.number, attempt.status_code, attempt.error, attempt.started_at) == (3, None, LOST, claimed_at)
    assert deliveries_due() == []
    assert delivery_send(delivery_id=last.pk) is None
