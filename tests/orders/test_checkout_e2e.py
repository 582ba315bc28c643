"""Seed 003 end to end over HTTP: register, claim a coupon, preview, order, pay or cancel."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from coupons.models import CouponStatus
from orders.models import Order
from tests.factories import ProductFactory
from tests.factories.checkout import (
    assert_order_adds_up,
    every_order_adds_up,  # noqa: F401 (fixture)
    seed_menu,
    seed_template,
)
from tests.marketing.distribution import flush_redis

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("every_order_adds_up")]


@pytest.fixture(autouse=True)
def clean_redis():
    flush_redis()
    yield
    flush_redis()


@pytest.fixture
def menu(db):
    products = seed_menu()
    duck = products["d-101"].category
    # The dish prices of seed 003's roast-duck example.
    ProductFactory(sku="t-duck-80", name="烤鸭 80", category=duck, price=Decimal("80.00"))
    ProductFactory(sku="t-duck-120", name="烤鸭 120", category=duck, price=Decimal("120.00"))
    ProductFactory(sku="t-cold-30", name="凉菜 30", category=products["d-201"].category, price=Decimal("30.00"))
    return products


def register(username: str) -> APIClient:
    client = APIClient()
    response = client.post(
        "/api/v1/auth/register", {"username": username, "password": "a-long-pass-2026"}, format="json"
    )
    assert response.status_code == 201, response.json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def claim(client: APIClient, template_key: str) -> dict:
    template = seed_template(template_key)
    response = client.post(f"/api/v1/templates/{template.pk}/claim")
    assert response.status_code == 201, response.json()
    return response.json()


def post(client: APIClient, path: str, body: dict | None = None, status: int = 200) -> dict:
    response = client.post(path, body or {}, format="json")
    assert response.status_code == status, response.json()
    return response.json()


def wallet(client: APIClient) -> dict[int, str]:
    return {c["id"]: c["status"] for c in client.get("/api/v1/me/coupons/").json()["results"]}


def test_roast_duck_coupon_preview_order_pay(menu):
    client = register("duck-lover")
    coupon = claim(client, "roast_duck_100_20")
    assert wallet(client) == {coupon["id"]: "UNUSED"}

    # 80 of roast duck + 30: the coupon shows, unusable
    low = post(
        client,
        "/api/v1/checkout/preview",
        {"lines": [{"sku": "t-duck-80", "quantity": 1}, {"sku": "t-cold-30", "quantity": 1}], "channel": "APP"},
    )
    assert [(c["id"], c["usable"]) for c in low["coupons"]] == [(coupon["id"], False)]
    assert low["best"]["total"] == "110.00"

    # 120 + 30: worth 20, total 130
    lines = [{"sku": "t-duck-120", "quantity": 1}, {"sku": "t-cold-30", "quantity": 1}]
    high = post(client, "/api/v1/checkout/preview", {"lines": lines, "channel": "APP"})
    assert (high["best"]["coupon_ids"], high["best"]["total"]) == ([coupon["id"]], "130.00")

    order = post(client, "/api/v1/orders/", {"lines": lines, "channel": "APP", "coupon_ids": [coupon["id"]]}, 201)
    assert (order["subtotal"], order["discount_total"], order["total"]) == ("150.00", "20.00", "130.00")
    assert wallet(client) == {coupon["id"]: CouponStatus.LOCKED}

    paid = post(client, f"/api/v1/orders/{order['id']}/pay")
    assert paid["status"] == "PAID"
    assert wallet(client) == {coupon["id"]: CouponStatus.USED}
    assert_order_adds_up(Order.objects.get(pk=order["id"]))


def test_cancel_returns_the_coupon(menu):
    client = register("changes-mind")
    coupon = claim(client, "new_user_68_10")
    lines = [{"sku": "d-101", "quantity": 1}]

    order = post(client, "/api/v1/orders/", {"lines": lines, "channel": "WEB", "coupon_ids": [coupon["id"]]}, 201)
    assert order["total"] == "118.00"
    cancelled = post(client, f"/api/v1/orders/{order['id']}/cancel")

    assert cancelled["status"] == "CANCELLED"
    assert wallet(client) == {coupon["id"]: CouponStatus.UNUSED}
    again = post(client, "/api/v1/checkout/preview", {"lines": lines, "channel": "WEB"})
    assert again["best"]["coupon_ids"] == [coupon["id"]]


def test_staple_gives_a_free_drink_line(menu):
    client = register("noodles")
    coupon = claim(client, "staple_gift_drink")

    order = post(
        client,
        "/api/v1/orders/",
        {"lines": [{"sku": "d-301", "quantity": 1}, {"sku": "d-202", "quantity": 1}], "channel": "MINI_PROGRAM"},
        201,
    )
    assert order["coupons"] == []  # not asked for: no coupon applied

    order = post(
        client,
        "/api/v1/orders/",
        {"lines": [{"sku": "d-301", "quantity": 1}], "channel": "MINI_PROGRAM", "auto_coupons": True},
        201,
    )
    gift_lines = [line for line in order["lines"] if line["is_gift"]]
    assert [(g["sku"], g["name"], g["unit_price"], g["quantity"]) for g in gift_lines] == [
        ("d-901", "酸梅汤", "0.00", 1)
    ]
    assert (order["total"], order["coupons"][0]["id"]) == ("22.00", coupon["id"])
    assert_order_adds_up(Order.objects.get(pk=order["id"]))


def test_percentage_coupon_capped_at_20(menu):
    client = register("big-table")
    coupon = claim(client, "percent_88_max20")
    lines = [{"sku": "d-501", "quantity": 1}, {"sku": "d-201", "quantity": 1}]  # 186.00: 12 % is 22.32

    order = post(client, "/api/v1/orders/", {"lines": lines, "channel": "APP", "coupon_ids": [coupon["id"]]}, 201)

    assert (order["discount_total"], order["total"]) == ("20.00", "166.00")
    assert_order_adds_up(Order.objects.get(pk=order["id"]))
