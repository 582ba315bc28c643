"""Orders in admin: read-only breakdowns, and cancelling an unpaid order through the service."""

import pytest
from django.test import Client
from django.urls import reverse

from core.models import AuditLog
from coupons.models import CouponStatus
from orders.models import Order, OrderStatus
from orders.services import order_pay, order_place
from tests.factories import StaffFactory, UserFactory
from tests.factories.checkout import (
    SEED_TEMPLATES,
    STACKABLE,
    every_order_adds_up,  # noqa: F401 (fixture)
    seed_menu,
    seed_template,
    wallet_coupon,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("every_order_adds_up")]

CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def menu(db):
    return seed_menu()


@pytest.fixture
def customer_order(menu):
    customer = UserFactory(username="wang.xiaoming")
    stackable_gift = seed_template(
        "staple_gift_drink",
        usage_rules=[*SEED_TEMPLATES["staple_gift_drink"]["usage_rules"], STACKABLE],
    )
    gift = wallet_coupon(customer, stackable_gift)
    cash = wallet_coupon(customer, "cash_5_stackable")
    order = order_place(
        user=customer,
        lines=[{"sku": "d-101", "quantity": 1}, {"sku": "d-301", "quantity": 1}],
        channel="MINI_PROGRAM",
        coupon_ids=[gift.pk, cash.pk],
    )
    return order, gift, cash


def admin_client(role: str) -> Client:
    client = Client()
    client.staff = StaffFactory(role=role)
    client.force_login(client.staff)
    return client


def test_changelist_filters_and_search(customer_order):
    order, _gift, _cash = customer_order
    other = order_place(user=UserFactory(username="li.lei"), lines=[{"sku": "d-201", "quantity": 1}], channel="APP")
    order_pay(order=other, actor=other.user)
    client = admin_client("finance")

    def listed(query: str) -> set[int]:
        response = client.get(CHANGELIST + query)
        assert response.status_code == 200
        return {row.pk for row in response.context["cl"].result_list}

    assert listed("") == {order.pk, other.pk}
    assert listed("?status=PAID") == {other.pk}
    assert listed("?channel=MINI_PROGRAM") == {order.pk}
    assert listed(f"?q={order.pk}") == {order.pk}
    assert listed("?q=li.lei") == {other.pk}
    assert listed("?q=nobody") == set()
    assert listed("?created_at__gte=2000-01-01+00:00:00%2B08:00") == {order.pk, other.pk}


def test_detail_shows_the_breakdown_read_only(customer_order):
    order, gift, cash = customer_order
    client = admin_client("finance")

    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    for text in ("北京烤鸭（整只）", "酸梅汤", gift.code, cash.code, str(order.total), "place"):
        assert text in page
    assert 'name="_save"' not in page
    assert "order-cancel" not in page  # finance may not cancel
    assert client.get(reverse("admin:orders_order_add")).status_code == 403
    assert client.post(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403
    assert client.post(reverse("admin:orders_order_cancel", args=[order.pk])).status_code == 403
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT


def test_operations_cancels_an_unpaid_order_with_the_button(customer_order):
    order, gift, cash = customer_order
    client = admin_client("operations")
    change = reverse("admin:orders_order_change", args=[order.pk])
    cancel = reverse("admin:orders_order_cancel", args=[order.pk])

    assert "order-cancel" in client.get(change).content.decode()
    assert client.get(cancel).status_code == 200
    response = client.post(cancel, {"reason": "kitchen closed"})

    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "kitchen closed")
    gift.refresh_from_db()
    cash.refresh_from_db()
    assert (gift.status, cash.status) == (CouponStatus.UNUSED, CouponStatus.UNUSED)
    audit = AuditLog.objects.get(action="cancel", object_id=order.pk)
    assert (audit.actor_id, audit.remark) == (client.staff.pk, "kitchen closed")
    # A second cancel is refused by the service and shown as an error, changing nothing.
    client.post(cancel, {"reason": "again"})
    assert Order.objects.get(pk=order.pk).cancel_reason == "kitchen closed"


def test_the_cancel_page_of_an_order_paid_meanwhile_sends_staff_back_saying_why(customer_order):
    order, _gift, _cash = customer_order
    client = admin_client("operations")
    change = reverse("admin:orders_order_change", args=[order.pk])
    cancel = reverse("admin:orders_order_cancel", args=[order.pk])
    assert "order-cancel" in client.get(change).content.decode()  # the button, as the page was drawn
    order_pay(order=order, actor=order.user)

    response = client.get(cancel)  # the button pressed on the old page

    assert response.status_code == 302 and response["Location"] == change
    told = [str(m) for m in client.get(change).context["messages"]]
    assert told == ["This order is Paid and cannot become Cancelled."]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_cancel_action_skips_orders_that_are_no_longer_unpaid(customer_order):
    order, _gift, _cash = customer_order
    paid = order_place(user=order.user, lines=[{"sku": "d-201", "quantity": 1}], channel="APP")
    order_pay(order=paid, actor=order.user)
    client = admin_client("operations")

    response = client.post(
        CHANGELIST, {"action": "cancel_selected", "_selected_action": [order.pk, paid.pk]}, follow=True
    )

    assert response.status_code == 200
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID
    notes = [str(m) for m in response.context["messages"]]
    assert any(str(paid) in note for note in notes), notes


def test_cancel_action_needs_the_permission(customer_order):
    order, _gift, _cash = customer_order
    client = admin_client("finance")

    response = client.post(CHANGELIST, {"action": "cancel_selected", "_selected_action": [order.pk]})

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT
    assert response.status_code in (200, 302)
