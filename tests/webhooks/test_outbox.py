"""Events into the outbox: rows in the transaction of the change, nothing for a rolled-back one, and
almost nothing at all when no endpoint listens."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.db import plain_transaction
from core.events import Event, emit
from tests.webhooks.receiver import Receiver
from webhooks import tasks
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from webhooks.services import outbox
from webhooks.services.delivery import deliveries_due, delivery_claim
from webhooks.services.endpoints import endpoint_create, endpoint_deactivate, endpoint_update
from webhooks.tasks import send_due_deliveries


def _endpoint(actor, url="http://127.0.0.1:9/hooks", event_types=("coupon.issued",), **kwargs):
    return endpoint_create(actor=actor, url=url, event_types=list(event_types), **kwargs)


@pytest.mark.django_db(transaction=True)
def test_an_event_writes_one_delivery_per_active_endpoint_subscribed_to_it(operations_user):
    # given: two endpoints on coupon.issued, one on order.paid only, one inactive
    first = _endpoint(operations_user)
    second = _endpoint(operations_user, event_types=["order.paid", "coupon.issued"])
    _endpoint(operations_user, event_types=["order.paid"])
    _endpoint(operations_user, is_active=False)

    # when: a coupon is issued in a transaction
    with transaction.atomic():
        emit(Event.COUPON_ISSUED, coupon_id=11, user_id=7, template_id=3, amount="5.00")
        # then: the rows are written inside it, before the commit
        assert WebhookDelivery.objects.count() == 2

    deliveries = list(WebhookDelivery.objects.order_by("endpoint_id"))
    assert [d.endpoint_id for d in deliveries] == [first.pk, second.pk]
    assert len({d.event_id for d in deliveries}) == 1
    assert all(d.event_type == "coupon.issued" and d.status == DeliveryStatus.PENDING for d in deliveries)
    assert deliveries[0].payload == {"coupon_id": 11, "user_id": 7, "template_id": 3, "amount": "5.00"}
    # and the after-commit hook handed both to the broker
    assert outbox.take_pending() == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_sends_nothing(operations_user):
    with Receiver() as receiver:
        endpoint = _endpoint(operations_user, url=receiver.url, event_types=["order.paid"])
        receiver.secret = endpoint.secret

        # when: the change that emitted the event rolls back
        with pytest.raises(RuntimeError), transaction.atomic():
            emit(Event.ORDER_PAID, order_id=5, user_id=1, total="30.00")
            assert WebhookDelivery.objects.count() == 1
            raise RuntimeError("payment refused after all")

        # then: no outbox row survives, and the job that sends due deliveries finds nothing to send
        assert WebhookDelivery.objects.count() == 0
        assert send_due_deliveries.apply().get() == 0
        assert receiver.requests == []


@pytest.mark.django_db(transaction=True)
def test_an_event_inside_a_plain_transaction_commits_its_delivery_with_the_change(operations_user):
    if connection.vendor != "mysql":
        pytest.skip("plain transactions are a MySQL/MariaDB path")
    _endpoint(operations_user)

    def claim(after_commit):
        emit(Event.COUPON_ISSUED, after_commit=after_commit, coupon_id=1, user_id=2, template_id=3)
        return len(after_commit)

    # the after-commit hook was collected by the plain transaction's list, and ran after COMMIT
    assert plain_transaction(claim) >= 1
    assert WebhookDelivery.objects.count() == 1
    assert outbox.take_pending() == []

    def refused(after_commit):
        emit(Event.COUPON_ISSUED, after_commit=after_commit, coupon_id=2, user_id=2, template_id=3)
        raise ValueError("sold out")

    with pytest.raises(ValueError):
        plain_transaction(refused)
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
def test_with_no_endpoint_listening_an_event_costs_no_query(operations_user, django_assert_num_queries):
    _endpoint(operations_user, event_types=["order.paid"])
    outbox.subscribed_event_types()  # warm

    with django_assert_num_queries(0):
        for coupon_id in range(100):
            emit(Event.COUPON_ISSUED, coupon_id=coupon_id, user_id=1, template_id=1)
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.django_db
def test_the_set_of_subscribed_types_follows_endpoint_changes_at_once(operations_user):
    endpoint = _endpoint(operations_user, event_types=["order.paid"])
    assert outbox.subscribed_event_types() == {"order.paid"}

    endpoint_update(endpoint=endpoint, actor=operations_user, event_types=["coupon.used", "order.paid"])
    assert outbox.subscribed_event_types() == {"coupon.used", "order.paid"}
    emit(Event.COUPON_USED, coupon_id=1, order_id=2)
    assert WebhookDelivery.objects.filter(event_type="coupon.used").count() == 1

    endpoint_deactivate(endpoint=endpoint, actor=operations_user)
    assert outbox.subscribed_event_types() == frozenset()
    emit(Event.COUPON_USED, coupon_id=2, order_id=3)
    assert WebhookDelivery.objects.filter(event_type="coupon.used").count() == 1


@pytest.mark.django_db
def test_the_job_finds_only_what_is_due_or_abandoned_and_claims_nothing(operations_user, settings):
    settings.WEBHOOK_CLAIM_TIMEOUT = 60
    _endpoint(operations_user, event_types=["order.paid"])
    for order_id in range(4):
        emit(Event.ORDER_PAID, order_id=order_id, user_id=1)
    due, later, abandoned, in_flight = WebhookDelivery.objects.order_by("pk")
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=later.pk).update(next_attempt_at=now + timedelta(minutes=5))
    WebhookDelivery.objects.filter(pk=abandoned.pk).update(
        status=DeliveryStatus.SENDING, attempts=1, claimed_at=now - timedelta(seconds=61)
    )
    WebhookDelivery.objects.filter(pk=in_flight.pk).update(
        status=DeliveryStatus.SENDING, attempts=1, claimed_at=now - timedelta(seconds=30)
    )
    before = list(WebhookDelivery.objects.order_by("pk").values_list("status", "attempts", "claimed_at"))

    assert sorted(deliveries_due(now=now)) == [due.pk, abandoned.pk]
    # found, not claimed: the rows are as they were
    assert list(WebhookDelivery.objects.order_by("pk").values_list("status", "attempts", "claimed_at")) == before

    # a sender claims one as it sends it: the abandoned claim is taken over, the one in flight is left alone
    due, later, abandoned, in_flight = WebhookDelivery.objects.order_by("pk")
    assert [delivery_claim(delivery=d, now=now) for d in (due, later, abandoned, in_flight)] == [1, None, 2, None]
    assert deliveries_due(now=now) == []
    assert delivery_claim(delivery=due, now=now) is None  # as it was read: claimed since


def _a_minute_passes() -> None:
    """The outbox's times a minute and a second earlier: as the job's next run sees them."""
    WebhookDelivery.objects.update(
        next_attempt_at=F("next_attempt_at") - timedelta(seconds=61),
        claimed_at=F("claimed_at") - timedelta(seconds=61),
    )


@pytest.mark.django_db
def test_deliveries_waiting_in_the_queue_use_up_no_attempt_until_a_worker_sends_them(
    operations_user, settings, monkeypatch
):
    # given: a backlog of due deliveries, and workers too busy to start any (the broker keeps the tasks)
    settings.WEBHOOK_CLAIM_TIMEOUT = 60
    queued: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_delivery", lambda delivery_id, **options: queued.append(delivery_id))
    with Receiver() as receiver:
        endpoint = _endpoint(operations_user, url=receiver.url, event_types=["order.paid"])
        receiver.secret = endpoint.secret
        for order_id in range(5):
            emit(Event.ORDER_PAID, order_id=order_id, user_id=1)
        backlog = list(WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True))

        # when: the every-minute job runs over them, and again a minute later
        assert send_due_deliveries.apply().get() == 5
        _a_minute_passes()
        assert send_due_deliveries.apply().get() == 5

        # then: each is queued twice and no attempt is used up
        assert queued == backlog * 2
        assert set(WebhookDelivery.objects.values_list("status", "attempts", "claimed_at")) == {
            (DeliveryStatus.PENDING, 0, None)
        }

        # and when the workers get to the tasks, each delivery is sent once, as attempt 1
        for delivery_id in queued:
            tasks.deliver_webhook.apply(args=(delivery_id,))

    assert sorted(r.json["data"]["order_id"] for r in receiver.requests) == list(range(5))
    assert {r.headers["X-Webhook-Attempt"] for r in receiver.requests} == {"1"}
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.DELIVERED, 1)}
    assert sorted(WebhookAttempt.objects.values_list("delivery_id", "number")) == [(pk, 1) for pk in backlog]
