"""Real threads, each with its own MariaDB connection: double spend and pay/cancel races."""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from coupons.models import CouponStatus, UserCoupon
from orders.errors import InvalidOrderTransition
from orders.models import Order, OrderCoupon, OrderStatus
from orders.services import order_cancel, order_pay, order_place
from tests.factories import UserFactory
from tests.factories.checkout import (
    assert_order_adds_up,
    every_order_adds_up,  # noqa: F401 (fixture)
    seed_menu,
    seed_template,
    wallet_coupon,
)
from tests.marketing.distribution import ensure_connections

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("every_order_adds_up")]


def run_together(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Start every job at the same moment on its own thread; each returns a result or its exception."""
    ensure_connections(len(jobs))
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(index: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_fifty_concurrent_orders_with_one_coupon_one_succeeds():
    # given
    seed_menu()
    customer = UserFactory()
    coupon = wallet_coupon(customer, "new_user_68_10")
    token = Token.objects.create(user=customer).key
    body = {"lines": [{"sku": "d-101", "quantity": 1}], "channel": "APP", "coupon_ids": [coupon.pk]}

    def order() -> tuple[int, Any]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = client.post("/api/v1/orders/", body, format="json")
        return response.status_code, response.json()

    # when
    results = run_together([order] * 50)

    # then
    assert not [r for r in results if isinstance(r, Exception)], results
    statuses = Counter(status for status, _body in results)
    assert statuses == {201: 1, 409: 49}, statuses
    winner = next(body for status, body in results if status == 201)
    for status, answer in results:
        if status == 409:
            assert answer["error"]["code"] == "COUPON_NOT_USABLE"
            assert [r["code"] for r in answer["error"]["details"]["coupons"][0]["reasons"]] == ["LOCKED"]
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id) == (CouponStatus.LOCKED, winner["id"])
    assert Order.objects.count() == 1
    assert list(OrderCoupon.objects.values_list("coupon_id", flat=True)) == [coupon.pk]
    coupon.template.refresh_from_db()
    assert (coupon.template.locked_count, coupon.template.used_count) == (1, 0)
    assert_order_adds_up(Order.objects.get())


def test_pay_and_cancel_racing_end_in_one_consistent_state():
    seed_menu()
    customer = UserFactory()
    template = seed_template("new_user_68_10")
    outcomes = Counter()
    rounds = 6
    for _round in range(rounds):
        coupon = wallet_coupon(customer, template)
        order = order_place(
            user=customer, lines=[{"sku": "d-101", "quantity": 1}], channel="APP", coupon_ids=[coupon.pk]
        )

        results = run_together(
            [
                lambda order=order: order_pay(order=order, actor=customer),
                lambda order=order: order_cancel(order=order, actor=None, reason="payment timeout"),
            ]
        )

        won = [r for r in results if isinstance(r, Order)]
        lost = [r for r in results if not isinstance(r, Order)]
        assert len(won) == 1 and len(lost) == 1, results
        assert isinstance(lost[0], InvalidOrderTransition)
        order.refresh_from_db()
        coupon.refresh_from_db()
        assert order.status == won[0].status
        if order.status == OrderStatus.PAID:
            assert (coupon.status, coupon.order_id) == (CouponStatus.USED, order.pk)
        else:
            assert order.status == OrderStatus.CANCELLED
            assert (coupon.status, coupon.order_id) == (CouponStatus.UNUSED, None)
        outcomes[order.status] += 1
    template.refresh_from_db()
    assert template.locked_count == 0
    assert template.used_count == outcomes[OrderStatus.PAID]
    assert UserCoupon.objects.filter(template=template, status=CouponStatus.USED).count() == template.used_count


def test_concurrent_auto_orders_never_share_a_coupon():
    seed_menu()
    customer = UserFactory()
    for key in ("new_user_68_10", "roast_duck_100_20", "percent_88_max20"):
        wallet_coupon(customer, key)

    def order() -> Order:
        return order_place(
            user=customer,
            lines=[{"sku": "d-101", "quantity": 1}, {"sku": "d-201", "quantity": 1}],
            channel="APP",
            auto_coupons=True,
        )

    results = run_together([order] * 8)

    assert all(isinstance(r, Order) for r in results), results
    used = list(OrderCoupon.objects.values_list("coupon_id", flat=True))
    # Each coupon in one order at most; none stacks, so three orders got one each.
    assert len(used) == len(set(used)) == 3
    for result in results:
        assert_order_adds_up(result)
    assert UserCoupon.objects.filter(status=CouponStatus.LOCKED).count() == 3
