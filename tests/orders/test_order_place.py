"""POST /api/v1/orders/: placing an order locks its coupons in one transaction."""

from decimal import Decimal

import pytest

from core.models import AuditLog
from coupons.models import CouponStatus, CouponTemplate, UserCoupon
from orders.models import Order, OrderCoupon, OrderLine, OrderStatus
from orders.services import order_place
from tests.error_shape import assert_api_error
from tests.factories import ProductFactory, UserFactory
from tests.factories.checkout import (
    assert_order_adds_up,
    every_order_adds_up,  # noqa: F401 (fixture)
    expire,
    seed_menu,
    seed_template,
    wallet_coupon,
)

URL = "/api/v1/orders/"
PREVIEW_URL = "/api/v1/checkout/preview"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("every_order_adds_up")]


@pytest.fixture
def menu(db):
    return seed_menu()


def place(client, lines, channel="APP", **extra):
    return client.post(URL, {"lines": lines, "channel": channel, **extra}, format="json")


def counters(template: CouponTemplate) -> tuple[int, int, Decimal]:
    template.refresh_from_db()
    return template.locked_count, template.used_count, template.discount_total


def snapshot() -> tuple:
    """Row counts and every coupon's status: what 'nothing changed' compares."""
    return (
        Order.objects.count(),
        OrderLine.objects.count(),
        OrderCoupon.objects.count(),
        sorted(UserCoupon.objects.values_list("pk", "status", "order_id")),
        sorted(CouponTemplate.objects.values_list("pk", "locked_count", "used_count")),
    )


def test_order_with_a_coupon_locks_it_and_writes_the_breakdown(customer, customer_client, menu):
    # given: 烤鸭节满100减20 and 120 of roast duck + 30 of cold dishes
    ProductFactory(sku="t-duck-120", name="烤鸭 120", category=menu["d-101"].category, price=Decimal("120.00"))
    ProductFactory(sku="t-cold-30", name="凉菜 30", category=menu["d-201"].category, price=Decimal("30.00"))
    coupon = wallet_coupon(customer, "roast_duck_100_20")

    # when
    response = place(
        customer_client,
        [{"sku": "t-duck-120", "quantity": 1}, {"sku": "t-cold-30", "quantity": 1}],
        coupon_ids=[coupon.pk],
    )

    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["subtotal"], body["discount_total"], body["total"]) == (
        "PENDING_PAYMENT",
        "150.00",
        "20.00",
        "130.00",
    )
    assert body["channel"] == "APP"
    assert [(line["sku"], line["unit_price"], line["line_subtotal"], line["discount"]) for line in body["lines"]] == [
        ("t-duck-120", "120.00", "120.00", "20.00"),
        ("t-cold-30", "30.00", "30.00", "0.00"),
    ]
    assert body["coupons"][0]["id"] == coupon.pk
    assert (body["coupons"][0]["code"], body["coupons"][0]["discount"]) == (coupon.code, "20.00")
    assert body["gifts"] == []
    order = Order.objects.get(pk=body["id"])
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id) == (CouponStatus.LOCKED, order.pk)
    assert counters(coupon.template) == (1, 0, Decimal("0.00"))
    assert_order_adds_up(order)
    audit = AuditLog.objects.get(action="place", object_id=order.pk)
    assert (audit.actor_id, audit.to_status, audit.data["coupon_ids"]) == (customer.pk, "PENDING_PAYMENT", [coupon.pk])


def test_unit_prices_come_from_the_menu(customer, customer_client, menu):
    response = place(customer_client, [{"sku": "d-101", "quantity": 2}])
    assert response.status_code == 201

    # A client that sends its own price is refused, not believed.
    forged = place(customer_client, [{"sku": "d-101", "quantity": 1, "unit_price": "0.01"}])

    assert response.json()["lines"][0]["unit_price"] == "128.00"
    assert response.json()["total"] == "256.00"
    assert_api_error(forged, 400, field="lines")


def test_gift_coupon_adds_a_line_at_price_zero(customer, customer_client, menu):
    coupon = wallet_coupon(customer, "staple_gift_drink")

    response = place(customer_client, [{"sku": "d-301", "quantity": 2}], coupon_ids=[coupon.pk])

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["subtotal"], body["discount_total"], body["total"]) == ("44.00", "0.00", "44.00")
    gift = [line for line in body["lines"] if line["is_gift"]]
    assert gift == [
        {
            "sku": "d-901",
            "name": "酸梅汤",
            "category": "cat-drinks",
            "quantity": 1,
            "unit_price": "0.00",
            "line_subtotal": "0.00",
            "discount": "0.00",
            "is_gift": True,
            "gift_coupon_id": coupon.pk,
        }
    ]
    assert body["gifts"] == [{"sku": "d-901", "name": "酸梅汤", "quantity": 1, "coupon_id": coupon.pk, "worth": "8.00"}]
    assert OrderCoupon.objects.get(coupon=coupon).gift_worth == Decimal("8.00")
    assert_order_adds_up(Order.objects.get(pk=body["id"]))


def test_stacked_coupons_allocate_to_the_cent(customer, customer_client, menu):
    # given: two stackable coupons, one item-scoped, and a cart whose shares do not divide evenly
    scoped = wallet_coupon(
        customer,
        seed_template(
            "cash_5_stackable",
            value={"amount": "7.00"},
            usage_rules=[
                {"rule_type": "ITEM_DISCOUNT_SCOPE", "params": {"category_ids": ["cat-cold"]}},
                {"rule_type": "STACKABILITY", "params": {"allow_stacking": True, "exclude_coupon_types": []}},
            ],
        ),
    )
    percent = wallet_coupon(
        customer,
        seed_template(
            "percent_88_max20",
            value={"percentage": 15},
            usage_rules=[{"rule_type": "STACKABILITY", "params": {"allow_stacking": True, "exclude_coupon_types": []}}],
        ),
    )
    lines = [{"sku": "d-201", "quantity": 1}, {"sku": "d-202", "quantity": 1}, {"sku": "d-303", "quantity": 3}]

    # when
    response = place(customer_client, lines, coupon_ids=[percent.pk, scoped.pk])

    # then: 7 off the cold dishes (30), then 15 % of what is left (60 - 7 = 53): 7.95
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["subtotal"], body["discount_total"], body["total"]) == ("60.00", "14.95", "45.05")
    assert {c["id"]: c["discount"] for c in body["coupons"]} == {scoped.pk: "7.00", percent.pk: "7.95"}
    assert_order_adds_up(Order.objects.get(pk=body["id"]))


def test_auto_coupons_applies_the_best_combination(customer, customer_client, menu):
    small = wallet_coupon(customer, "new_user_68_10")
    big = wallet_coupon(customer, "roast_duck_100_20")
    lines = [{"sku": "d-101", "quantity": 1}, {"sku": "d-201", "quantity": 1}]
    best = customer_client.post(PREVIEW_URL, {"lines": lines, "channel": "APP"}, format="json").json()["best"]

    response = place(customer_client, lines, auto_coupons=True)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert [c["id"] for c in body["coupons"]] == best["coupon_ids"] == [big.pk]
    assert (body["discount_total"], body["total"]) == (best["discount_total"], best["total"])
    assert UserCoupon.objects.get(pk=small.pk).status == CouponStatus.UNUSED
    assert UserCoupon.objects.get(pk=big.pk).status == CouponStatus.LOCKED
    assert_order_adds_up(Order.objects.get(pk=body["id"]))


def test_auto_coupons_with_nothing_usable_places_a_plain_order(customer, customer_client, menu):
    wallet_coupon(customer, "roast_duck_100_20")

    response = place(customer_client, [{"sku": "d-201", "quantity": 1}], auto_coupons=True)

    assert response.status_code == 201
    assert (response.json()["coupons"], response.json()["total"]) == ([], "18.00")


def test_auto_coupons_and_coupon_ids_together_are_a_400(customer, customer_client, menu):
    coupon = wallet_coupon(customer, "new_user_68_10")

    response = place(customer_client, [{"sku": "d-101", "quantity": 1}], auto_coupons=True, coupon_ids=[coupon.pk])

    assert_api_error(response, 400, field="auto_coupons")


def test_unusable_coupon_is_a_409_with_reasons_and_nothing_changes(customer, customer_client, menu):
    roast = wallet_coupon(customer, "roast_duck_100_20")
    used = wallet_coupon(customer, "cash_5_stackable", status=CouponStatus.USED)
    before = snapshot()

    # 凉皮 alone: no roast duck for the roast-duck coupon
    response = place(customer_client, [{"sku": "d-201", "quantity": 1}], coupon_ids=[roast.pk, used.pk])

    error = assert_api_error(response, 409, code="COUPON_NOT_USABLE")
    reasons = {entry["id"]: [r["code"] for r in entry["reasons"]] for entry in error["details"]["coupons"]}
    assert reasons[used.pk] == ["USED"]
    assert "ITEM_ELIGIBILITY" in reasons[roast.pk]
    assert snapshot() == before


def test_coupon_expiring_between_preview_and_order_is_refused(customer, customer_client, menu):
    coupon = wallet_coupon(customer, "new_user_68_10")
    lines = [{"sku": "d-101", "quantity": 1}]
    shown = customer_client.post(PREVIEW_URL, {"lines": lines, "channel": "APP"}, format="json").json()
    assert shown["best"]["coupon_ids"] == [coupon.pk]

    # when: its expiry passes before the customer orders
    expire(coupon)
    before = snapshot()
    response = place(customer_client, lines, coupon_ids=[coupon.pk])

    # then
    error = assert_api_error(response, 409, code="COUPON_NOT_USABLE")
    assert error["details"]["coupons"][0]["id"] == coupon.pk
    assert [r["code"] for r in error["details"]["coupons"][0]["reasons"]] == ["EXPIRED"]
    assert snapshot() == before


def test_another_customers_coupon_is_a_404_and_nothing_changes(customer, customer_client, menu):
    theirs = wallet_coupon(UserFactory(), "new_user_68_10")
    mine = wallet_coupon(customer, "cash_5_stackable")
    before = snapshot()

    response = place(customer_client, [{"sku": "d-101", "quantity": 1}], coupon_ids=[mine.pk, theirs.pk])

    assert assert_api_error(response, 404, code="NOT_FOUND")["details"] == {"coupon_ids": [theirs.pk]}
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"lines": [{"sku": "d-999", "quantity": 1}], "channel": "APP"},
        {"lines": [{"sku": "d-101", "quantity": 0}], "channel": "APP"},
        {"lines": [{"sku": "d-101", "quantity": 10**9}], "channel": "APP"},
        {"lines": [], "channel": "APP"},
        {"lines": [{"sku": "d-101", "quantity": 1}], "channel": "SMOKE_SIGNAL"},
        {"lines": [{"sku": "d-101", "quantity": 1}], "channel": "APP", "auto_coupons": "perhaps"},
        {"lines": [{"sku": "d-101", "quantity": 1}], "channel": "APP", "coupon_ids": "1"},
    ],
)
def test_bad_input_is_a_400_and_nothing_changes(customer, customer_client, menu, body):
    wallet_coupon(customer, "cash_5_stackable")
    before = snapshot()

    response = customer_client.post(URL, body, format="json")

    assert_api_error(response, 400)
    assert snapshot() == before


def test_same_idempotency_key_places_one_order_with_an_identical_answer(customer, customer_client, menu):
    coupon = wallet_coupon(customer, "new_user_68_10")
    body = {"lines": [{"sku": "d-101", "quantity": 1}], "channel": "APP", "coupon_ids": [coupon.pk]}

    first = customer_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    second = customer_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    other_body = customer_client.post(URL, {**body, "channel": "WEB"}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.filter(user=customer).count() == 1
    assert_api_error(other_body, 422)


def test_service_merges_repeated_skus(customer, menu):
    order = order_place(
        user=customer,
        lines=[{"sku": "d-201", "quantity": 1}, {"sku": "d-201", "quantity": 2}],
        channel="POS",
    )

    assert [(line.sku, line.quantity) for line in order.lines.all()] == [("d-201", 3)]
    assert (order.status, order.channel, order.total) == (OrderStatus.PENDING_PAYMENT, "POS", Decimal("54.00"))
    assert_order_adds_up(order)


def test_discount_never_exceeds_the_subtotal(customer, customer_client, menu):
    coupon = wallet_coupon(customer, seed_template("cash_5_stackable", value={"amount": "500.00"}))

    response = place(
        customer_client, [{"sku": "d-101", "quantity": 1}, {"sku": "d-201", "quantity": 1}], coupon_ids=[coupon.pk]
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["subtotal"], body["discount_total"], body["total"]) == ("146.00", "146.00", "0.00")
    assert [line["discount"] for line in body["lines"]] == ["128.00", "18.00"]


def test_random_cash_coupon_takes_its_issued_amount(customer, customer_client, menu):
    template = seed_template(
        "cash_5_stackable", type="RANDOM_CASH", value={"min_amount": "1.00", "max_amount": "8.88"}, usage_rules=[]
    )
    coupon = wallet_coupon(customer, template, amount=Decimal("6.66"))

    response = place(customer_client, [{"sku": "d-201", "quantity": 1}], coupon_ids=[coupon.pk])

    assert (response.json()["discount_total"], response.json()["total"]) == ("6.66", "11.34")
