"""The notifications outbox: the customer's own messages over the API, and a pluggable sender."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone, translation

from core.clock import business_tz
from coupons.services import coupons_grant_by_staff
from marketing.models import Notification, NotificationKind
from marketing.notifications import notifications_send
from marketing.services.schedules import expiry_reminders_create
from marketing.tasks import send_notifications
from tests.factories import CouponTemplateFactory, UserCouponFactory, UserFactory
from tests.marketing.distribution import clean_redis, restore_roles_after_module, run_concurrently  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]

NOTIFICATIONS = "/api/v1/me/notifications/"
SENT: list[int] = []


def recording_backend(notification: Notification) -> None:
    SENT.append(notification.pk)


def failing_backend(notification: Notification) -> None:
    raise ConnectionError("SMS gateway down")


class WorkerKilled(BaseException):
    """What the sender sees of a SIGKILL: nothing after this point runs, no ``except Exception`` either."""


def dying_backend(notification: Notification) -> None:
    raise WorkerKilled


def note(user, title="You received 1 coupon") -> Notification:
    return Notification.objects.create(user=user, kind=NotificationKind.COUPON_GRANTED, title=title)


def test_customers_read_their_own_notifications(customer, customer_client):
    mine = [note(customer, f"n{i}") for i in range(3)]
    note(UserFactory(), "someone else's")

    body = customer_client.get(NOTIFICATIONS, {"page_size": 2}).json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == [mine[2].pk, mine[1].pk]
    assert set(body["results"][0]) == {"id", "kind", "title", "body", "data", "created_at", "read_at"}


def test_notifications_need_a_token(api_client):
    assert api_client.get(NOTIFICATIONS).status_code == 401


def test_the_backend_is_pluggable_and_sends_each_once(settings, customer):
    settings.NOTIFICATION_BACKEND = "tests.marketing.test_notifications.recording_backend"
    SENT.clear()
    first, second = note(customer), note(customer)

    assert notifications_send(ids=[first.pk]) == 1
    assert send_notifications.apply(args=[None]).get() == 1
    assert notifications_send() == 0

    assert SENT == [first.pk, second.pk]
    assert Notification.objects.filter(sent_at__isnull=True).count() == 0


def test_a_failing_backend_leaves_the_message_in_the_outbox(settings, customer):
    settings.NOTIFICATION_BACKEND = "tests.marketing.test_notifications.failing_backend"
    message = note(customer)

    assert notifications_send() == 0

    message.refresh_from_db()
    assert message.sent_at is None


def test_the_default_backend_logs(customer, caplog):
    message = note(customer, "hello")

    with caplog.at_level("INFO", logger="marketing.notifications"):
        assert notifications_send(ids=[message.pk]) == 1

    assert "hello" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_each_message_once(settings):
    settings.NOTIFICATION_BACKEND = "tests.marketing.test_notifications.recording_backend"
    SENT.clear()
    user = UserFactory()
    Notification.objects.bulk_create(
        [Notification(user=user, kind=NotificationKind.COUPON_GRANTED, title=f"m{i}") for i in range(40)]
    )

    results = run_concurrently(lambda _i: notifications_send(), [(i,) for i in range(4)])

    assert sum(results) == 40
    assert sorted(SENT) == sorted(Notification.objects.values_list("pk", flat=True))
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
    assert all(n.sent_at <= timezone.now() for n in Notification.objects.all())


def test_a_message_whose_sender_died_mid_send_is_sent_once_its_claim_is_stale(settings, customer):
    settings.NOTIFICATION_BACKEND = "tests.marketing.test_notifications.dying_backend"
    settings.NOTIFICATION_CLAIM_TIMEOUT = 60
    SENT.clear()
    message = note(customer)

    # given: the worker is killed while the backend sends
    with pytest.raises(WorkerKilled):
        notifications_send(ids=[message.pk])
    message.refresh_from_db()
    assert message.sent_at is None and message.claimed_at is not None

    # when: the task runs again at once (acks_late) and the sweep comes while the claim is fresh
    settings.NOTIFICATION_BACKEND = "tests.marketing.test_notifications.recording_backend"
    assert send_notifications.apply(args=[[message.pk]]).get() == 0
    assert send_notifications.apply(args=[None]).get() == 0
    # then: nobody takes a claim that may still be sending
    assert SENT == []

    # when: the claim has aged past the timeout
    Notification.objects.filter(pk=message.pk).update(claimed_at=timezone.now() - timedelta(seconds=61))
    assert send_notifications.apply(args=[None]).get() == 1
    assert send_notifications.apply(args=[None]).get() == 0

    # then: the next sweep sent it, once
    assert SENT == [message.pk]
    message.refresh_from_db()
    assert message.sent_at is not None and message.sent_at >= message.claimed_at


def test_only_claims_older_than_the_timeout_are_taken_over(settings, customer):
    settings.NOTIFICATION_BACKEND = "tests.marketing.test_notifications.recording_backend"
    settings.NOTIFICATION_CLAIM_TIMEOUT = 60
    SENT.clear()
    now = timezone.now()
    fresh, stale = note(customer, "fresh"), note(customer, "stale")
    Notification.objects.filter(pk=fresh.pk).update(claimed_at=now - timedelta(seconds=50))
    Notification.objects.filter(pk=stale.pk).update(claimed_at=now - timedelta(seconds=70))

    assert notifications_send() == 1

    assert SENT == [stale.pk]
    assert Notification.objects.get(pk=fresh.pk).sent_at is None
    assert Notification.objects.get(pk=fresh.pk).claimed_at == now - timedelta(seconds=50)


@pytest.mark.django_db(transaction=True)
def test_two_senders_taking_over_stale_claims_send_each_message_once(settings):
    settings.NOTIFICATION_BACKEND = "tests.marketing.test_notifications.recording_backend"
    SENT.clear()
    user = UserFactory()
    long_ago = timezone.now() - timedelta(hours=1)
    Notification.objects.bulk_create(
        [
            Notification(user=user, kind=NotificationKind.COUPON_GRANTED, title=f"m{i}", claimed_at=long_ago)
            for i in range(40)
        ]
    )

    results = run_concurrently(lambda _i: notifications_send(), [(i,) for i in range(4)])

    assert sum(results) == 40
    assert sorted(SENT) == sorted(Notification.objects.values_list("pk", flat=True))
    assert not Notification.objects.filter(sent_at__isnull=True).exists()


# the reader's language --------------------------------------------------------------------------------


def read_as(client, language: str) -> dict:
    return client.get(NOTIFICATIONS, HTTP_ACCEPT_LANGUAGE=language).json()["results"][0]


def test_a_grant_made_in_english_admin_reads_in_the_customers_language(customer, customer_client, operations_user):
    template = CouponTemplateFactory(name="烤鸭券")
    with translation.override("en"):  # the staff member's admin language
        coupons_grant_by_staff(template=template, users=[customer], actor=operations_user)

    zh, en = read_as(customer_client, "zh-hans"), read_as(customer_client, "en")

    assert (zh["title"], zh["body"]) == ("您收到了 1 张优惠券", "已放入您的券包：烤鸭券")
    assert (en["title"], en["body"]) == ("You received 1 coupon", "Now in your wallet: 烤鸭券")
    stored = Notification.objects.get()
    default = {"zh-hans": zh, "en": en}[settings.LANGUAGE_CODE]
    assert (stored.title, stored.body) == (default["title"], default["body"])  # for the sender and admin


def test_an_expiry_reminder_reads_in_the_customers_language_with_business_time(customer, customer_client):
    expires = timezone.now() + timedelta(hours=3)
    UserCouponFactory(user=customer, template=CouponTemplateFactory(name="烤鸭券"), expires_at=expires)
    expiry_reminders_create()

    zh, en = read_as(customer_client, "zh-hans"), read_as(customer_client, "en")

    local = timezone.localtime(expires, business_tz())
    assert zh["title"] == "您的优惠券“烤鸭券”即将过期" and en["title"] == "Your coupon 烤鸭券 expires soon"
    assert local.strftime("%Y-%m-%d %H:%M") in en["body"] and local.strftime("%Y-%m-%d %H:%M") in zh["body"]
    assert en["data"]["expires_at"] == local.isoformat() and en["data"]["expires_at"].endswith("+08:00")


def test_a_message_written_before_it_had_languages_reads_as_stored(customer, customer_client):
    note(customer, "旧消息")

    assert read_as(customer_client, "en")["title"] == "旧消息"
