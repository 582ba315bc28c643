"""POST /api/v1/checkout/preview: the cart priced with the customer's coupons."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from coupons.models import CouponStatus, UserCoupon
from orders.models import Order
from orders.services import checkout_preview
from tests.error_shape import assert_api_error
from tests.factories import ProductFactory, UserFactory
from tests.factories.checkout import (
    every_order_adds_up,  # noqa: F401 (fixture)
    expire,
    seed_menu,
    seed_template,
    wallet_coupon,
)

URL = "/api/v1/checkout/preview"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("every_order_adds_up")]


@pytest.fixture
def menu(db):
    return seed_menu()


def preview(client, lines, channel="APP", **extra):
    return client.post(URL, {"lines": lines, "channel": channel, **extra}, format="json")


def by_id(body):
    return {entry["id"]: entry for entry in body["coupons"]}


def test_preview_lists_every_unused_coupon_and_names_the_best(customer, customer_client, menu):
    # given: three coupons, one of them expired before the sweep reached it, one held by an order
    roast = wallet_coupon(customer, "roast_duck_100_20")
    percent = wallet_coupon(customer, "percent_88_max20")
    expired = wallet_coupon(customer, "new_user_68_10")
    expire(expired)
    wallet_coupon(customer, "cash_5_stackable", status=CouponStatus.USED)

    # when: 整只烤鸭 128 + 凉皮 18 = 146
    response = preview(customer_client, [{"sku": "d-101", "quantity": 1}, {"sku": "d-201", "quantity": 1}])

    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["subtotal"] == "146.00"
    coupons = by_id(body)
    assert set(coupons) == {roast.pk, percent.pk, expired.pk}
    assert coupons[roast.pk]["usable"] is True and coupons[roast.pk]["discount"] == "20.00"
    assert coupons[percent.pk]["discount"] == "17.52"  # 12 % of 146
    assert coupons[expired.pk]["usable"] is False
    assert [r["code"] for r in coupons[expired.pk]["reasons"]] == ["EXPIRED"]
    assert coupons[expired.pk]["reasons"][0]["message"]
    assert coupons[expired.pk]["discount"] == "0.00"
    # Usable first, the most valuable first.
    assert [c["id"] for c in body["coupons"]] == [roast.pk, percent.pk, expired.pk]
    assert body["best"] == {
        "coupon_ids": [roast.pk],
        "coupons": [
            {
                "id": roast.pk,
                "type": "CASH_VOUCHER",
                "discount": "20.00",
                "gift_worth": "0.00",
                "allocation": {"d-101": "20.00"},
                "gifts": [],
            }
        ],
        "discount_total": "20.00",
        "gift_worth": "0.00",
        "total": "126.00",
        "gifts": [],
    }
    assert "applied" not in body
    assert body["lines"][0] == {
        "sku": "d-101",
        "name": "北京烤鸭（整只）",
        "category": "cat-roast-duck",
        "unit_price": "128.00",
        "quantity": 1,
        "line_subtotal": "128.00",
    }


def test_roast_duck_coupon_needs_100_of_roast_duck(customer, customer_client, menu):
    # given: seed 003's 烤鸭节满100减20 and dishes priced as in its example
    ProductFactory(sku="t-duck-80", category=menu["d-101"].category, price=Decimal("80.00"))
    ProductFactory(sku="t-duck-120", category=menu["d-101"].category, price=Decimal("120.00"))
    ProductFactory(sku="t-cold-30", category=menu["d-201"].category, price=Decimal("30.00"))
    coupon = wallet_coupon(customer, "roast_duck_100_20")

    # when: 80 of roast duck + 30 of cold dishes
    low = preview(customer_client, [{"sku": "t-duck-80", "quantity": 1}, {"sku": "t-cold-30", "quantity": 1}])
    # and: 120 of roast duck + 30
    high = preview(customer_client, [{"sku": "t-duck-120", "quantity": 1}, {"sku": "t-cold-30", "quantity": 1}])

    # then: 110 in the order but only 80 in the coupon's base: unusable
    entry = by_id(low.json())[coupon.pk]
    assert entry["usable"] is False
    assert [r["code"] for r in entry["reasons"]] == ["MINIMUM_SPEND"]
    assert low.json()["best"]["coupon_ids"] == []
    assert low.json()["best"]["total"] == "110.00"
    # and: 20 off, all of it on the duck, 130 to pay
    best = high.json()["best"]
    assert (best["coupon_ids"], best["discount_total"], best["total"]) == ([coupon.pk], "20.00", "130.00")
    assert best["coupons"][0]["allocation"] == {"t-duck-120": "20.00"}


def test_percentage_coupon_is_capped(customer, customer_client, menu):
    coupon = wallet_coupon(customer, "percent_88_max20")

    # 整只烤鸭 128 + 凉皮 18 + 夫妻肺片 32 = 178: 12 % is 21.36, capped at 20
    capped = preview(
        customer_client,
        [{"sku": "d-101", "quantity": 1}, {"sku": "d-201", "quantity": 1}, {"sku": "d-203", "quantity": 1}],
    )
    # 半只 68 + 凉皮 18 = 86: 12 % is 10.32
    below = preview(customer_client, [{"sku": "d-102", "quantity": 1}, {"sku": "d-201", "quantity": 1}])

    assert by_id(capped.json())[coupon.pk]["discount"] == "20.00"
    assert capped.json()["best"]["total"] == "158.00"
    allocation = capped.json()["best"]["coupons"][0]["allocation"]
    assert sum(Decimal(v) for v in allocation.values()) == Decimal("20.00")
    assert by_id(below.json())[coupon.pk]["discount"] == "10.32"


def test_staple_gives_a_free_drink(customer, customer_client, menu):
    coupon = wallet_coupon(customer, "staple_gift_drink")

    with_staple = preview(customer_client, [{"sku": "d-301", "quantity": 1}])
    without = preview(customer_client, [{"sku": "d-201", "quantity": 1}])

    best = with_staple.json()["best"]
    assert best["coupon_ids"] == [coupon.pk]
    assert best["gifts"] == [{"sku": "d-901", "name": "酸梅汤", "quantity": 1, "unit_worth": "8.00", "worth": "8.00"}]
    assert (best["discount_total"], best["gift_worth"], best["total"]) == ("0.00", "8.00", "22.00")
    entry = by_id(with_staple.json())[coupon.pk]
    assert (entry["usable"], entry["gift_worth"]) == (True, "8.00")
    refused = by_id(without.json())[coupon.pk]
    assert refused["usable"] is False
    assert [r["code"] for r in refused["reasons"]] == ["CONDITIONAL_GIFT_ITEM"]


def test_gift_dish_off_the_menu_makes_the_gift_coupon_unusable(customer, customer_client, menu):
    coupon = wallet_coupon(customer, "staple_gift_drink")
    type(menu["d-901"]).objects.filter(sku="d-901").update(is_active=False)

    body = preview(customer_client, [{"sku": "d-301", "quantity": 1}]).json()

    assert by_id(body)[coupon.pk]["usable"] is False
    assert [r["code"] for r in by_id(body)[coupon.pk]["reasons"]] == ["GIFT_UNAVAILABLE"]


def test_applied_shows_the_chosen_combination_or_why_not(customer, customer_client, menu):
    roast = wallet_coupon(customer, "roast_duck_100_20")
    percent = wallet_coupon(customer, "percent_88_max20")
    lines = [{"sku": "d-101", "quantity": 1}, {"sku": "d-201", "quantity": 1}]

    one = preview(customer_client, lines, coupon_ids=[percent.pk]).json()["applied"]
    both = preview(customer_client, lines, coupon_ids=[roast.pk, percent.pk]).json()["applied"]
    none = preview(customer_client, lines, coupon_ids=[]).json()["applied"]

    assert one["usable"] is True
    assert (one["coupon_ids"], one["discount_total"], one["total"]) == ([percent.pk], "17.52", "128.48")
    assert sum(Decimal(v) for v in one["line_discounts"].values()) == Decimal("17.52")
    assert one["refused"] == []
    # Neither stacks: the pair is refused, each with NOT_STACKABLE.
    assert both["usable"] is False
    assert (both["discount_total"], both["total"]) == ("0.00", "146.00")
    assert {entry["id"]: [r["code"] for r in entry["reasons"]] for entry in both["refused"]} == {
        roast.pk: ["NOT_STACKABLE"],
        percent.pk: ["NOT_STACKABLE"],
    }
    assert (none["usable"], none["total"], none["coupon_ids"]) == (True, "146.00", [])


def test_applied_refuses_a_used_or_locked_coupon_with_its_status(customer, customer_client, menu):
    used = wallet_coupon(customer, "cash_5_stackable", status=CouponStatus.USED)
    locked = wallet_coupon(customer, "cash_5_stackable", status=CouponStatus.LOCKED)

    body = preview(customer_client, [{"sku": "d-101", "quantity": 1}], coupon_ids=[used.pk, locked.pk]).json()

    refused = {entry["id"]: entry["reasons"] for entry in body["applied"]["refused"]}
    assert [r["code"] for r in refused[used.pk]] == ["USED"]
    assert [r["code"] for r in refused[locked.pk]] == ["LOCKED"]
    assert all(r["message"] for reasons in refused.values() for r in reasons)
    # Neither is offered in the list of coupons that could apply.
    assert {c["id"] for c in body["coupons"]} == set()


def test_duplicate_skus_are_merged(customer, customer_client, menu):
    body = preview(
        customer_client,
        [{"sku": "d-201", "quantity": 1}, {"sku": "d-101", "quantity": 1}, {"sku": "d-201", "quantity": 2}],
    ).json()

    assert [(line["sku"], line["quantity"], line["line_subtotal"]) for line in body["lines"]] == [
        ("d-201", 3, "54.00"),
        ("d-101", 1, "128.00"),
    ]
    assert body["subtotal"] == "182.00"


def test_not_yet_valid_coupon_shows_why(customer, customer_client, menu):
    later = timezone.now() + timedelta(days=1)
    coupon = wallet_coupon(customer, "cash_5_stackable", valid_from=later, expires_at=later + timedelta(days=7))

    body = preview(customer_client, [{"sku": "d-101", "quantity": 1}]).json()

    assert [r["code"] for r in by_id(body)[coupon.pk]["reasons"]] == ["NOT_YET_VALID"]
    assert body["best"]["coupon_ids"] == []


def test_channel_rule_follows_the_channel_sent(customer, customer_client, menu):
    coupon = wallet_coupon(
        customer,
        seed_template(
            "cash_5_stackable", usage_rules=[{"rule_type": "CHANNELS", "params": {"channels": ["MINI_PROGRAM"]}}]
        ),
    )

    app = preview(customer_client, [{"sku": "d-101", "quantity": 1}], channel="APP").json()
    mini = preview(customer_client, [{"sku": "d-101", "quantity": 1}], channel="MINI_PROGRAM").json()

    assert [r["code"] for r in by_id(app)[coupon.pk]["reasons"]] == ["CHANNELS"]
    assert by_id(mini)[coupon.pk]["usable"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": [], "channel": "APP"}, "lines"),
        ({"lines": [{"sku": "d-101", "quantity": 0}], "channel": "APP"}, "lines"),
        ({"lines": [{"sku": "d-101", "quantity": -1}], "channel": "APP"}, "lines"),
        ({"lines": [{"sku": "d-101", "quantity": 1000}], "channel": "APP"}, "lines"),
        ({"lines": [{"sku": "d-101", "quantity": "many"}], "channel": "APP"}, "lines"),
        ({"lines": [{"sku": "d-101", "quantity": 1.5}], "channel": "APP"}, "lines"),
        ({"lines": [{"sku": "d-101"}], "channel": "APP"}, "lines"),
        ({"lines": "d-101", "channel": "APP"}, "lines"),
        ({"lines": [{"sku": f"d-{i}", "quantity": 1} for i in range(101)], "channel": "APP"}, "lines"),
        ({"lines": [{"sku": "d-101", "quantity": 1}], "channel": "FAX"}, "channel"),
        ({"lines": [{"sku": "d-101", "quantity": 1}]}, "channel"),
        ({"lines": [{"sku": "d-101", "quantity": 1}], "channel": "APP", "coupon_ids": ["x"]}, "coupon_ids"),
        ({"lines": [{"sku": "d-101", "quantity": 1}], "channel": "APP", "coupon_ids": [2**63]}, "coupon_ids"),
        ({"lines": [{"sku": "d-101", "quantity": 1}], "channel": "APP", "coupon_ids": [1, 1]}, "coupon_ids"),
        ({"lines": [{"sku": "d-101", "quantity": 1}], "channel": "APP", "coupon_id": 1}, "coupon_id"),
        # Merged, the two lines ask for 1,000 of one dish.
        ({"lines": [{"sku": "d-101", "quantity": 500}, {"sku": "d-101", "quantity": 500}], "channel": "APP"}, "lines"),
    ],
)
def test_bad_input_is_a_400(customer_client, menu, body, field):
    response = customer_client.post(URL, body, format="json")
    assert_api_error(response, 400, field=field)


def test_unknown_or_inactive_sku_is_a_400(customer_client, menu):
    type(menu["d-102"]).objects.filter(sku="d-102").update(is_active=False)

    unknown = preview(customer_client, [{"sku": "d-999", "quantity": 1}, {"sku": "d-101", "quantity": 1}])
    inactive = preview(customer_client, [{"sku": "d-102", "quantity": 1}])

    assert assert_api_error(unknown, 400, code="UNKNOWN_SKU")["details"] == {"skus": ["d-999"]}
    assert assert_api_error(inactive, 400, code="UNKNOWN_SKU")["details"] == {"skus": ["d-102"]}


def test_huge_cart_is_refused(customer_client, menu):
    ProductFactory(sku="t-banquet", category=menu["d-101"].category, price=Decimal("999999.00"))

    response = preview(customer_client, [{"sku": "t-banquet", "quantity": 2}])

    assert_api_error(response, 400, code="CART_TOO_LARGE")


def test_another_customers_coupon_is_a_404_and_leaks_nothing(customer_client, menu):
    stranger = UserFactory()
    theirs = wallet_coupon(stranger, "cash_5_stackable")
    missing_id = theirs.pk + 1000

    for ids in ([theirs.pk], [missing_id]):
        response = preview(customer_client, [{"sku": "d-101", "quantity": 1}], coupon_ids=ids)
        error = assert_api_error(response, 404, code="NOT_FOUND")
        assert error["details"] == {"coupon_ids": ids}
    assert UserCoupon.objects.get(pk=theirs.pk).status == CouponStatus.UNUSED


def test_preview_needs_a_customer(api_client, menu):
    response = api_client.post(URL, {"lines": [{"sku": "d-101", "quantity": 1}], "channel": "APP"}, format="json")
    assert_api_error(response, 401)


def test_preview_changes_nothing(customer, customer_client, menu):
    coupon = wallet_coupon(customer, "roast_duck_100_20")
    before = (Order.objects.count(), UserCoupon.objects.get(pk=coupon.pk).status)

    preview(customer_client, [{"sku": "d-101", "quantity": 1}], coupon_ids=[coupon.pk])

    assert (Order.objects.count(), UserCoupon.objects.get(pk=coupon.pk).status) == before


@pytest.mark.parametrize("held", [3, 40])
def test_preview_queries_do_not_grow_with_the_coupons_held(
    customer, customer_client, menu, held, django_assert_max_num_queries
):
    # given: a mix of coupon kinds, gifts among them
    kinds = ["roast_duck_100_20", "percent_88_max20", "staple_gift_drink", "cash_5_stackable"]
    templates = [seed_template(kind) for kind in kinds]
    coupons = [wallet_coupon(customer, templates[i % len(templates)]) for i in range(held)]
    lines = [{"sku": sku, "quantity": 2} for sku in ("d-101", "d-201", "d-301", "d-903")]

    # then: the service reads the coupons (1), the templates (1) and the menu incl. gift dishes (1), and
    # once it has read them, the coupons alone
    with django_assert_max_num_queries(3):
        checkout_preview(user=customer, lines=lines, channel="APP", coupon_ids=[coupons[0].pk])
    with django_assert_max_num_queries(1):
        result = checkout_preview(user=customer, lines=lines, channel="APP", coupon_ids=[coupons[0].pk])
    assert len(result.coupons) == held
    # and over HTTP one more, the token
    with django_assert_max_num_queries(2):
        response = preview(customer_client, lines)
    assert len(response.json()["coupons"]) == held
