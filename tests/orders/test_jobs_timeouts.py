import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from coupons.models import CouponStatus, UserCoupon
from orders.models import Order, OrderStatus
from orders.services import order_pay, order_place
from orders.services.timeouts import TIMEOUT_REASON, orders_cancel_unpaid
from tests.factories import UserFactory
from tests.factories.checkout import seed_menu, wallet_coupon


def _order_with_coupon(user, *, minutes_old: int):
    coupon = wallet_coupon(user, "cash_5_stackable")
    order = order_place(user=user, lines=[{"sku": "d-101", "quantity": 1}], channel="APP", coupon_ids=[coupon.pk])
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_old))
    return order, coupon


@pytest.mark.django_db
def test_unpaid_orders_past_the_timeout_are_cancelled_and_their_coupons_returned(settings):
    # given
    settings.ORDER_PAYMENT_TIMEOUT = 15
    seed_menu()
    user = UserFactory()
    old, old_coupon = _order_with_coupon(user, minutes_old=16)
    recent, recent_coupon = _order_with_coupon(user, minutes_old=5)
    paid, paid_coupon = _order_with_coupon(user, minutes_old=1)
    order_pay(order=paid, actor=user)  # paid in time, 30 minutes ago
    Order.objects.filter(pk=paid.pk).update(created_at=timezone.now() - timedelta(minutes=30))

    # when
    cancelled = orders_cancel_unpaid()

    # then
    assert cancelled == 1
    old.refresh_from_db()
    assert (old.status, old.cancel_reason) == (OrderStatus.CANCELLED, TIMEOUT_REASON)
    assert UserCoupon.objects.get(pk=old_coupon.pk).status == CouponStatus.UNUSED
    assert Order.objects.get(pk=recent.pk).status == OrderStatus.PENDING_PAYMENT
    assert UserCoupon.objects.get(pk=recent_coupon.pk).status == CouponStatus.LOCKED
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID
    assert UserCoupon.objects.get(pk=paid_coupon.pk).status == CouponStatus.USED
    # run again: nothing more to do
    assert orders_cancel_unpaid() == 0


@pytest.mark.django_db
def test_timeout_job_works_in_batches():
    seed_menu()
    user = UserFactory()
    orders = [_order_with_coupon(user, minutes_old=60)[0] for _ in range(5)]

    assert orders_cancel_unpaid(batch_size=2, max_batches=1) == 2
    assert orders_cancel_unpaid(batch_size=2) == 3
    assert set(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True)) == {
        OrderStatus.CANCELLED
    }


@pytest.mark.django_db(transaction=True)
def test_two_timeout_jobs_at_once_cancel_each_order_once():
    # given
    seed_menu()
    user = UserFactory()
    pairs = [_order_with_coupon(user, minutes_old=60) for _ in range(6)]
    results = []
    barrier = threading.Barrier(2)

    def job():
        try:
            barrier.wait()
            results.append(orders_cancel_unpaid(batch_size=2))
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then: every order cancelled once, every coupon back once, one audit row each
    from core.models import AuditLog

    assert sum(results) == 6
    for order, coupon in pairs:
        assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
        assert UserCoupon.objects.get(pk=coupon.pk).status == CouponStatus.UNUSED
        assert AuditLog.objects.filter(content_type__model="order", object_id=order.pk, action="cancel").count() == 1
