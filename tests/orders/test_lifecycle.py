"""Pay, cancel, refund, complete: the order's transition map, its coupons and the template counters."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import AuditLog
from coupons.models import CouponSource, CouponStatus, UserCoupon
from marketing.models import GiftPack, GiftPackGrant, GiftPackItem, GiftPackTrigger, MemberProfile
from orders.errors import InvalidOrderTransition, PaymentWindowClosed
from orders.models import Order, OrderStatus
from orders.services import order_cancel, order_complete, order_pay, order_place, order_refund
from orders.services.lifecycle import TIMEOUT_REASON
from tests.error_shape import assert_api_error
from tests.factories import StaffFactory, UserFactory
from tests.factories.checkout import (
    assert_order_adds_up,
    every_order_adds_up,  # noqa: F401 (fixture)
    seed_menu,
    seed_template,
    wallet_coupon,
)

S = OrderStatus
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("every_order_adds_up")]

LINES = [{"sku": "d-101", "quantity": 1}, {"sku": "d-201", "quantity": 1}]  # 146.00


@pytest.fixture
def menu(db):
    return seed_menu()


def placed(user, *coupons, lines=LINES) -> Order:
    order = order_place(user=user, lines=lines, channel="APP", coupon_ids=[c.pk for c in coupons])
    assert_order_adds_up(order)
    return order


def template_counters(coupon: UserCoupon) -> dict:
    t = coupon.template
    t.refresh_from_db()
    return {
        "locked": t.locked_count,
        "used": t.used_count,
        "expired": t.expired_count,
        "revoked": t.revoked_count,
        "discount": t.discount_total,
    }


def status_of(coupon: UserCoupon) -> tuple:
    coupon.refresh_from_db()
    return coupon.status, coupon.order_id


def test_pay_uses_the_coupons_and_counts_them(customer, menu):
    roast = wallet_coupon(customer, "roast_duck_100_20")
    order = placed(customer, roast)

    paid = order_pay(order=order, actor=customer)

    assert (paid.status, paid.paid_at is not None) == (S.PAID, True)
    roast.refresh_from_db()
    assert (roast.status, roast.order_id, roast.used_at) == (CouponStatus.USED, order.pk, paid.paid_at)
    assert template_counters(roast) == {
        "locked": 0,
        "used": 1,
        "expired": 0,
        "revoked": 0,
        "discount": Decimal("20.00"),
    }
    assert MemberProfile.objects.get(user=customer).last_order_at == paid.paid_at
    audit = AuditLog.objects.get(action="pay", object_id=order.pk)
    assert (audit.actor_id, audit.from_status, audit.to_status) == (customer.pk, S.PENDING_PAYMENT, S.PAID)
    assert_order_adds_up(paid)


def test_counters_add_up_over_several_orders_of_one_template(customer, menu):
    template = seed_template("new_user_68_10")
    coupons = [wallet_coupon(customer, template) for _ in range(3)]
    orders = [placed(customer, coupon) for coupon in coupons]
    assert template_counters(coupons[0])["locked"] == 3

    order_pay(order=orders[0], actor=customer)
    order_pay(order=orders[1], actor=customer)
    order_cancel(order=orders[2], actor=customer)

    assert template_counters(coupons[0]) == {
        "locked": 0,
        "used": 2,
        "expired": 0,
        "revoked": 0,
        "discount": Decimal("20.00"),
    }


def test_cancel_returns_the_coupon_to_the_wallet(customer, menu):
    coupon = wallet_coupon(customer, "new_user_68_10")
    order = placed(customer, coupon)

    cancelled = order_cancel(order=order, actor=customer, reason="changed my mind")

    assert (cancelled.status, cancelled.cancel_reason) == (S.CANCELLED, "changed my mind")
    assert cancelled.cancelled_at is not None
    assert status_of(coupon) == (CouponStatus.UNUSED, None)
    assert template_counters(coupon)["locked"] == 0
    # The order keeps what was applied, for the record.
    assert list(cancelled.applied_coupons.values_list("coupon_id", flat=True)) == [coupon.pk]
    # And the coupon can be used again.
    again = placed(customer, coupon)
    assert status_of(coupon) == (CouponStatus.LOCKED, again.pk)


def test_cancel_after_the_coupon_expired_makes_it_expired(customer, menu):
    coupon = wallet_coupon(customer, "new_user_68_10")
    order = placed(customer, coupon)
    UserCoupon.objects.filter(pk=coupon.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    order_cancel(order=order, actor=customer)

    assert status_of(coupon) == (CouponStatus.EXPIRED, None)
    counters = template_counters(coupon)
    assert (counters["locked"], counters["expired"], counters["used"]) == (0, 1, 0)


def test_cancel_without_return_on_cancel_forfeits_the_coupon(customer, menu):
    coupon = wallet_coupon(customer, seed_template("new_user_68_10", return_on_cancel=False))
    order = placed(customer, coupon)

    order_cancel(order=order, actor=customer)

    # REVOKED, and still pointing at the order that used it up.
    assert status_of(coupon) == (CouponStatus.REVOKED, order.pk)
    counters = template_counters(coupon)
    assert (counters["locked"], counters["revoked"], counters["used"]) == (0, 1, 0)


def test_refund_keeps_the_coupons_used(customer, menu):
    coupon = wallet_coupon(customer, "new_user_68_10")
    order = order_pay(order=placed(customer, coupon), actor=customer)
    before = template_counters(coupon)

    refunded = order_refund(order=order, actor=customer)

    assert (refunded.status, refunded.refunded_at is not None) == (S.REFUNDED, True)
    assert status_of(coupon) == (CouponStatus.USED, order.pk)
    assert template_counters(coupon) == before


def test_complete_a_paid_order(customer, menu):
    order = order_pay(order=placed(customer), actor=customer)

    completed = order_complete(order=order, actor=None)

    assert completed.status == S.COMPLETED
    with pytest.raises(InvalidOrderTransition):
        order_refund(order=completed, actor=customer)


@pytest.mark.parametrize(
    ("start", "service", "allowed"),
    [
        (S.PENDING_PAYMENT, order_pay, True),
        (S.PENDING_PAYMENT, order_cancel, True),
        (S.PENDING_PAYMENT, order_refund, False),
        (S.PENDING_PAYMENT, order_complete, False),
        (S.PAID, order_pay, False),
        (S.PAID, order_cancel, False),
        (S.PAID, order_refund, True),
        (S.PAID, order_complete, True),
        (S.CANCELLED, order_pay, False),
        (S.CANCELLED, order_cancel, False),
        (S.CANCELLED, order_refund, False),
        (S.REFUNDED, order_refund, False),
        (S.REFUNDED, order_pay, False),
        (S.COMPLETED, order_cancel, False),
        (S.COMPLETED, order_complete, False),
    ],
)
def test_transition_map(customer, menu, start, service, allowed):
    order = placed(customer)
    Order.objects.filter(pk=order.pk).update(status=start)

    if allowed:
        assert service(order=order, actor=customer).status != start
    else:
        with pytest.raises(InvalidOrderTransition) as refused:
            service(order=order, actor=customer)
        assert refused.value.code == "INVALID_STATE"
        assert Order.objects.get(pk=order.pk).status == start


def test_timeout_job_cancels_with_no_actor(customer, menu):
    coupon = wallet_coupon(customer, "new_user_68_10")
    order = placed(customer, coupon)

    order_cancel(order=order, actor=None, reason="payment timeout")

    assert Order.objects.get(pk=order.pk).status == S.CANCELLED
    assert status_of(coupon) == (CouponStatus.UNUSED, None)
    audit = AuditLog.objects.get(action="cancel", object_id=order.pk)
    assert (audit.actor_id, audit.remark) == (None, "payment timeout")


def test_timeout_job_never_cancels_an_order_paid_meanwhile(customer, menu):
    coupon = wallet_coupon(customer, "new_user_68_10")
    order = placed(customer, coupon)
    stale = Order.objects.get(pk=order.pk)  # what the job read before the customer paid
    order_pay(order=order, actor=customer)

    with pytest.raises(InvalidOrderTransition):
        order_cancel(order=stale, actor=None, reason="payment timeout")

    assert Order.objects.get(pk=order.pk).status == S.PAID
    assert status_of(coupon) == (CouponStatus.USED, order.pk)
    assert not AuditLog.objects.filter(action="cancel", object_id=order.pk).exists()


def aged(order: Order, minutes: int) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
    return order


def test_an_order_past_its_payment_window_is_not_paid_but_cancelled(customer, menu, settings):
    settings.ORDER_PAYMENT_TIMEOUT = 15
    coupon = wallet_coupon(customer, "new_user_68_10")
    order = aged(placed(customer, coupon), minutes=16)  # the timeout job has not reached it yet

    with pytest.raises(PaymentWindowClosed) as refused:
        order_pay(order=order, actor=customer)

    assert refused.value.code == "INVALID_STATE" and refused.value.details["reason"] == "PAYMENT_TIMEOUT"
    cancelled = Order.objects.get(pk=order.pk)
    assert (cancelled.status, cancelled.cancel_reason, cancelled.paid_at) == (S.CANCELLED, TIMEOUT_REASON, None)
    assert status_of(coupon) == (CouponStatus.UNUSED, None)  # back in the wallet, as the job would leave it
    audit = AuditLog.objects.get(action="cancel", object_id=order.pk)
    assert (audit.actor_id, audit.remark) == (None, TIMEOUT_REASON)
    assert not AuditLog.objects.filter(action="pay", object_id=order.pk).exists()


def test_an_order_inside_its_payment_window_is_paid(customer, menu, settings):
    settings.ORDER_PAYMENT_TIMEOUT = 15
    order = aged(placed(customer), minutes=14)

    assert order_pay(order=order, actor=customer).status == S.PAID


@pytest.mark.parametrize("key", [None, "pay-late"])
def test_a_late_payment_over_http_is_a_409_and_the_order_is_cancelled(customer, customer_client, menu, settings, key):
    settings.ORDER_PAYMENT_TIMEOUT = 15
    coupon = wallet_coupon(customer, "new_user_68_10")
    order = aged(placed(customer, coupon), minutes=20)
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}

    response = customer_client.post(f"/api/v1/orders/{order.pk}/pay", **headers)
    again = customer_client.post(f"/api/v1/orders/{order.pk}/pay", **headers)

    assert_api_error(response, 409, code="INVALID_STATE")
    assert response.json()["error"]["details"]["reason"] == "PAYMENT_TIMEOUT"
    assert again.status_code == 409
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED
    assert status_of(coupon) == (CouponStatus.UNUSED, None)
    shown = customer_client.get(f"/api/v1/orders/{order.pk}", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert (shown["status"], shown["cancel_reason"]) == ("CANCELLED", "支付超时")


def test_first_paid_order_fires_the_first_order_pack_once(customer, menu, django_capture_on_commit_callbacks):
    # given: a FIRST_ORDER_PAID pack with one coupon
    template = seed_template("cash_5_stackable")
    pack = GiftPack.objects.create(name="首单礼包", trigger=GiftPackTrigger.FIRST_ORDER_PAID)
    GiftPackItem.objects.create(pack=pack, template=template, quantity=1)
    first, second = placed(customer), placed(customer)

    # when: both orders are paid, one after the other
    with django_capture_on_commit_callbacks(execute=True):
        order_pay(order=first, actor=customer)
    with django_capture_on_commit_callbacks(execute=True):
        order_pay(order=second, actor=customer)

    # then: one pack, one coupon
    assert list(GiftPackGrant.objects.filter(user=customer).values_list("pack_id", "occasion")) == [
        (pack.pk, "first-order")
    ]
    assert UserCoupon.objects.filter(user=customer, source=CouponSource.GIFT_PACK).count() == 1
    assert AuditLog.objects.get(action="pay", object_id=first.pk).data["first_paid_order"] is True
    assert AuditLog.objects.get(action="pay", object_id=second.pk).data["first_paid_order"] is False


def test_a_refunded_first_order_still_counts_as_the_first(customer, menu, django_capture_on_commit_callbacks):
    pack = GiftPack.objects.create(name="首单礼包", trigger=GiftPackTrigger.FIRST_ORDER_PAID)
    GiftPackItem.objects.create(pack=pack, template=seed_template("cash_5_stackable"), quantity=1)
    with django_capture_on_commit_callbacks(execute=True):
        first = order_pay(order=placed(customer), actor=customer)
    order_refund(order=first, actor=customer)

    with django_capture_on_commit_callbacks(execute=True):
        order_pay(order=placed(customer), actor=customer)

    assert GiftPackGrant.objects.filter(user=customer).count() == 1


# Over HTTP ------------------------------------------------------------------------------------


def test_pay_cancel_refund_over_http(customer, customer_client, menu):
    coupon = wallet_coupon(customer, "new_user_68_10")
    to_pay = placed(customer, coupon)
    to_cancel = placed(customer)

    paid = customer_client.post(f"/api/v1/orders/{to_pay.pk}/pay", HTTP_IDEMPOTENCY_KEY="pay-1")
    paid_again = customer_client.post(f"/api/v1/orders/{to_pay.pk}/pay", HTTP_IDEMPOTENCY_KEY="pay-1")
    pay_twice = customer_client.post(f"/api/v1/orders/{to_pay.pk}/pay")
    cancelled = customer_client.post(f"/api/v1/orders/{to_cancel.pk}/cancel", {"reason": "too slow"}, format="json")
    cancel_paid = customer_client.post(f"/api/v1/orders/{to_pay.pk}/cancel")
    refunded = customer_client.post(f"/api/v1/orders/{to_pay.pk}/refund")

    assert paid.status_code == 200 and paid.json()["status"] == "PAID"
    assert paid.json()["coupons"][0]["id"] == coupon.pk
    assert paid_again.json() == paid.json()
    assert_api_error(pay_twice, 409, code="INVALID_STATE")
    assert (cancelled.json()["status"], cancelled.json()["cancel_reason"]) == ("CANCELLED", "too slow")
    assert_api_error(cancel_paid, 409, code="INVALID_STATE")
    assert refunded.json()["status"] == "REFUNDED"
    assert status_of(coupon) == (CouponStatus.USED, to_pay.pk)


def test_another_customers_order_is_a_404_and_nothing_changes(customer_client, menu):
    stranger = UserFactory()
    coupon = wallet_coupon(stranger, "new_user_68_10")
    order = placed(stranger, coupon)

    responses = [
        customer_client.get(f"/api/v1/orders/{order.pk}"),
        customer_client.post(f"/api/v1/orders/{order.pk}/pay"),
        customer_client.post(f"/api/v1/orders/{order.pk}/cancel"),
        customer_client.post(f"/api/v1/orders/{order.pk}/refund"),
        customer_client.get(f"/api/v1/orders/{order.pk + 1000}"),
    ]

    for response in responses:
        error = assert_api_error(response, 404, code="NOT_FOUND")
        assert error["details"] == {}
    assert Order.objects.get(pk=order.pk).status == S.PENDING_PAYMENT
    assert status_of(coupon) == (CouponStatus.LOCKED, order.pk)


def test_order_detail_and_my_orders(customer, customer_client, menu):
    coupon = wallet_coupon(customer, "staple_gift_drink")
    mine = [placed(customer), placed(customer, coupon, lines=[{"sku": "d-301", "quantity": 1}])]
    placed(UserFactory())
    order_pay(order=mine[0], actor=customer)

    detail = customer_client.get(f"/api/v1/orders/{mine[1].pk}").json()
    listed = customer_client.get("/api/v1/me/orders/?page_size=1").json()
    paid_only = customer_client.get("/api/v1/me/orders/?status=PAID").json()
    bad_filter = customer_client.get("/api/v1/me/orders/?status=LOST")

    assert detail["id"] == mine[1].pk
    gift = {"sku": "d-901", "name": "酸梅汤", "quantity": 1, "coupon_id": coupon.pk, "worth": "8.00"}
    assert detail["gifts"] == [gift]
    assert set(detail) >= {"id", "status", "subtotal", "discount_total", "total", "lines", "coupons", "gifts"}
    assert listed["count"] == 2 and listed["next"] and listed["previous"] is None
    assert [o["id"] for o in listed["results"]] == [mine[1].pk]
    assert [o["id"] for o in paid_only["results"]] == [mine[0].pk]
    assert_api_error(bad_filter, 400, field="status")


def test_staff_with_cancel_permission_uses_the_same_service(menu):
    customer = UserFactory()
    coupon = wallet_coupon(customer, "new_user_68_10")
    order = placed(customer, coupon)
    staff = StaffFactory(role="operations")

    order_cancel(order=order, actor=staff, reason="out of duck")

    assert AuditLog.objects.get(action="cancel", object_id=order.pk).actor_id == staff.pk
    assert status_of(coupon) == (CouponStatus.UNUSED, None)


def test_huge_order_id_is_a_404(customer_client):
    huge = 10**22
    assert_api_error(customer_client.get(f"/api/v1/orders/{huge}"), 404)
    assert_api_error(customer_client.post(f"/api/v1/orders/{huge}/pay"), 404)
