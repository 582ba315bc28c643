"""Sending deliveries to a real HTTP receiver that verifies signatures."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidTransition
from core.events import Event, emit
from tests.webhooks.receiver import Receiver
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import delivery as delivery_services
from webhooks.services.delivery import delivery_retry_now, delivery_send, retry_delay
from webhooks.services.endpoints import (
    endpoint_create,
    endpoint_deactivate,
    endpoint_rotate_secret,
    endpoint_update,
)
from webhooks.signing import sign, verify

pytestmark = pytest.mark.django_db(transaction=True)


def _endpoint_for(receiver, actor, event_types=("order.paid",)):
    endpoint = endpoint_create(actor=actor, url=receiver.url, event_types=list(event_types), description="POS")
    receiver.secret = endpoint.secret
    return endpoint


def _paid(order_id=42):
    with transaction.atomic():
        emit(Event.ORDER_PAID, order_id=order_id, user_id=7, total="88.50")
    return WebhookDelivery.objects.get(payload__order_id=order_id)


def test_a_url_with_a_chinese_path_is_kept_percent_encoded_and_reached(operations_user):
    with Receiver() as receiver:
        endpoint = endpoint_create(
            actor=operations_user, url=receiver.url + "/优惠券?活动=烤鸭节#top", event_types=["order.paid"]
        )
        receiver.secret = endpoint.secret
        delivery = _paid()

        outcome = delivery_send(delivery_id=delivery.pk)

    encoded = "/hooks/%E4%BC%98%E6%83%A0%E5%88%B8?%E6%B4%BB%E5%8A%A8=%E7%83%A4%E9%B8%AD%E8%8A%82"
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == receiver.url.removesuffix("/hooks") + encoded
    assert outcome is not None and outcome.status == DeliveryStatus.DELIVERED
    (request,) = receiver.requests
    assert request.path == encoded and request.valid_signature


def test_a_delivery_arrives_signed_with_its_event_id(operations_user):
    with Receiver() as receiver:
        _endpoint_for(receiver, operations_user)
        delivery = _paid()

        outcome = delivery_send(delivery_id=delivery.pk)

    assert outcome is not None and outcome.status == DeliveryStatus.DELIVERED
    (request,) = receiver.requests
    assert request.valid_signature
    assert request.headers["X-Webhook-Id"] == str(delivery.event_id)
    assert request.headers["X-Webhook-Event"] == "order.paid"
    assert request.headers["X-Webhook-Signature"] == sign(
        secret=receiver.secret, timestamp=request.headers["X-Webhook-Timestamp"], body=request.body
    )
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "id": str(delivery.event_id),
        "type": "order.paid",
        "created_at": delivery.occurred_at.isoformat(),
        "data": {"order_id": 42, "user_id": 7, "total": "88.50"},
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
    assert delivery.delivered_at is not None and delivery.last_latency_ms is not None
    assert delivery.claimed_at is None and delivery.next_attempt_at is None
    # sent once: a second send (a task redelivered by the broker) finds nothing to do
    assert delivery_send(delivery_id=delivery.pk) is None
    assert len(receiver.requests) == 1


def test_a_receiver_that_fails_twice_gets_it_on_the_third_attempt(operations_user, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0  # due again at once; the waits are tested below
    with Receiver(answers=[500, 503]) as receiver:
        _endpoint_for(receiver, operations_user)
        delivery = _paid()

        outcomes = [delivery_send(delivery_id=delivery.pk) for _ in range(3)]
        assert delivery_send(delivery_id=delivery.pk) is None

    assert [o.status for o in outcomes if o] == ["PENDING", "PENDING", "DELIVERED"]
    assert [r.answered for r in receiver.requests] == [500, 503, 200]
    assert all(r.valid_signature for r in receiver.requests)
    assert {r.headers["X-Webhook-Id"] for r in receiver.requests} == {str(delivery.event_id)}
    assert [r.headers["X-Webhook-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 3, 200)
    log = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "status_code", "error"))
    assert log == [(1, 500, "HTTP 500"), (2, 503, "HTTP 503"), (3, 200, "")]


def test_retries_back_off_exponentially_up_to_a_ceiling(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600
    assert [retry_delay(n) for n in range(1, 11)] == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]


def test_a_failed_retry_is_due_after_its_backoff(operations_user, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    with Receiver(answers=[500]) as receiver:
        _endpoint_for(receiver, operations_user)
        delivery = _paid()
        outcome = delivery_send(delivery_id=delivery.pk)
        # not due yet: nothing is sent
        assert delivery_send(delivery_id=delivery.pk) is None

    assert outcome is not None and outcome.retry_in == 30
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert 29 <= (delivery.next_attempt_at - delivery.updated_at).total_seconds() <= 31
    assert len(receiver.requests) == 1


def test_after_the_last_attempt_the_delivery_fails_and_retry_now_gives_it_one_more(operations_user, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    with Receiver(answers=[500, 500, 500]) as receiver:
        _endpoint_for(receiver, operations_user)
        delivery = _paid()
        statuses = [delivery_send(delivery_id=delivery.pk) for _ in range(4)]
        assert [s.status if s else None for s in statuses] == ["PENDING", "PENDING", "FAILED", None]

        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.FAILED, 3, None)
        delivery_retry_now(delivery=delivery, actor=operations_user)
        last = delivery_send(delivery_id=delivery.pk)

    assert last is not None and last.status == DeliveryStatus.DELIVERED
    assert len(receiver.requests) == 4
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 4)
    with pytest.raises(InvalidTransition):
        delivery_retry_now(delivery=delivery, actor=operations_user)


def test_an_unreachable_endpoint_is_an_attempt_with_the_error_recorded(operations_user, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    with Receiver() as receiver:
        url = receiver.url
    endpoint = endpoint_create(actor=operations_user, url=url, event_types=["order.paid"])  # nobody listens now
    assert endpoint.pk
    delivery = _paid()

    outcome = delivery_send(delivery_id=delivery.pk)

    assert outcome is not None and outcome.status == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert delivery.last_status_code is None and "refused" in delivery.last_error.lower()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_receiver_on_a_private_address_is_not_sent_to(operations_user, settings, host):
    # Saved while allowed (or resolved to a private address since): checked again when it connects, after
    # the name is resolved ("localhost" by the system's resolver), and nothing reaches the receiver.
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    with Receiver() as receiver:
        _endpoint_for(receiver, operations_user)
        WebhookEndpoint.objects.update(url=receiver.url.replace("127.0.0.1", host))
        delivery = _paid()
        settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False

        outcome = delivery_send(delivery_id=delivery.pk)

    assert outcome is not None and outcome.status == DeliveryStatus.PENDING
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.last_status_code is None
    assert "not a public address" in delivery.last_error


def test_a_redirect_is_not_followed(operations_user):
    with Receiver(answers=[302]) as receiver:
        _endpoint_for(receiver, operations_user)
        delivery = _paid()
        outcome = delivery_send(delivery_id=delivery.pk)

    assert outcome is not None and outcome.status == DeliveryStatus.PENDING
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302


@pytest.mark.parametrize("answer", [(None, ""), (503, ""), (302, ""), (100, "")])
def test_only_a_2xx_answer_delivers(operations_user, monkeypatch, settings, answer):
    # given: a request that ends without a 2xx answer, and without a word of error either
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    monkeypatch.setattr(delivery_services, "_post", lambda url, body, headers: answer)
    endpoint_create(actor=operations_user, url="http://127.0.0.1:9/hooks", event_types=["order.paid"])
    delivery = _paid()

    outcome = delivery_send(delivery_id=delivery.pk)

    # then: a failed attempt, to be retried, that says what came back
    assert outcome is not None and outcome.status == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, answer[0])
    assert delivery.delivered_at is None and delivery.last_error
    assert WebhookAttempt.objects.get(delivery=delivery).error == delivery.last_error


def test_nothing_more_is_sent_to_a_deactivated_endpoint(operations_user, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    with Receiver(answers=[500]) as receiver:
        endpoint = _endpoint_for(receiver, operations_user)
        # given: a delivery whose retry is due, one not sent yet, and one whose sender died mid-request
        retried, waiting, abandoned = _paid(1), _paid(2), _paid(3)
        delivery_send(delivery_id=retried.pk)
        WebhookDelivery.objects.filter(pk=abandoned.pk).update(
            status=DeliveryStatus.SENDING, attempts=1, claimed_at=timezone.now() - timedelta(minutes=5)
        )

        # when: Operations deactivate the endpoint, and the deliveries come to be sent
        endpoint_deactivate(endpoint=endpoint, actor=operations_user)
        outcomes = [delivery_send(delivery_id=d.pk) for d in (retried, waiting, abandoned)]

        # then: none is sent; each ends FAILED, saying why, with no attempt counted
        assert [o.status if o else None for o in outcomes] == [DeliveryStatus.FAILED] * 3
        assert len(receiver.requests) == 1
        ended = WebhookDelivery.objects.filter(pk__in=[retried.pk, waiting.pk, abandoned.pk]).order_by("pk")
        assert [(d.status, d.attempts, d.next_attempt_at, d.claimed_at) for d in ended] == [
            (DeliveryStatus.FAILED, 1, None, None),
            (DeliveryStatus.FAILED, 0, None, None),
            (DeliveryStatus.FAILED, 1, None, None),
        ]
        assert {(d.last_error, d.last_status_code) for d in ended} == {("Not sent: the endpoint is deactivated.", None)}
        assert WebhookAttempt.objects.count() == 1
        assert delivery_send(delivery_id=waiting.pk) is None

        # and a manual retry is refused while the endpoint stays inactive
        with pytest.raises(InvalidTransition, match="deactivated"):
            delivery_retry_now(delivery=waiting, actor=operations_user)
        assert WebhookDelivery.objects.get(pk=waiting.pk).status == DeliveryStatus.FAILED

        # once it is active again, a retry sends it
        endpoint_update(endpoint=endpoint, actor=operations_user, is_active=True)
        delivery_retry_now(delivery=waiting, actor=operations_user)
        outcome = delivery_send(delivery_id=waiting.pk)

    assert outcome is not None and outcome.status == DeliveryStatus.DELIVERED
    assert [r.json["data"]["order_id"] for r in receiver.requests] == [1, 2]
    assert receiver.requests[1].headers["X-Webhook-Attempt"] == "1"


def test_two_senders_at_once_send_a_delivery_once(operations_user):
    # given: a slow receiver, and eight threads sending the same delivery at the same moment
    with Receiver(hold={1}) as receiver:
        _endpoint_for(receiver, operations_user)
        delivery = _paid()
        barrier = threading.Barrier(8)
        results: list = []

        def send():
            barrier.wait()
            results.append(delivery_send(delivery_id=delivery.pk))
            from django.db import connection

            connection.close()

        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        assert receiver.arrived.wait(10)
        time.sleep(0.5)
        receiver.release()
        for thread in threads:
            thread.join(30)

    assert len(receiver.requests) == 1
    assert [r.status for r in results if r is not None] == [DeliveryStatus.DELIVERED]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)


def test_a_rotated_secret_signs_the_next_attempt(operations_user, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    with Receiver(answers=[500]) as receiver:
        endpoint = _endpoint_for(receiver, operations_user)
        old_secret = endpoint.secret
        delivery = _paid()
        delivery_send(delivery_id=delivery.pk)
        rotated = endpoint_rotate_secret(endpoint=endpoint, actor=operations_user)
        receiver.secret = rotated.secret
        delivery_send(delivery_id=delivery.pk)

    assert rotated.secret != old_secret and rotated.secret.startswith("whsec_")
    first, second = receiver.requests
    assert first.valid_signature and second.valid_signature  # each checked with the secret of its time
    assert not verify(
        secret=old_secret,
        timestamp=second.headers["X-Webhook-Timestamp"],
        body=second.body,
        signature=second.headers["X-Webhook-Signature"],
    )


def test_verification_refuses_a_changed_body_or_an_old_timestamp():
    body = json.dumps({"id": "x"}).encode()
    now = str(int(time.time()))
    signature = sign(secret="whsec_k", timestamp=now, body=body)

    assert verify(secret="whsec_k", timestamp=now, body=body, signature=signature)
    assert not verify(secret="whsec_k", timestamp=now, body=body + b" ", signature=signature)
    assert not verify(secret="whsec_other", timestamp=now, body=body, signature=signature)
    old = str(int(time.time()) - 600)
    assert not verify(
        secret="whsec_k", timestamp=old, body=body, signature=sign(secret="whsec_k", timestamp=old, body=body)
    )
