"""Each usage rule and each validity check, good and bad, on coupons evaluated on their own."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from coupons.engine import Cart, Coupon, CouponEvaluation, evaluate
from tests.coupons.engine.builders import (
    NOON_SATURDAY,
    SHANGHAI,
    D,
    alone,
    cart,
    cash,
    ctx,
    gift,
    line,
    percent,
    rule,
)

UTC = ZoneInfo("UTC")


def one(cart_: Cart, coupon: Coupon, **context: Any) -> CouponEvaluation:
    (evaluation,) = evaluate(cart_, [coupon], ctx(**context))
    return evaluation


def codes(evaluation: CouponEvaluation) -> list[str]:
    return [reason.code for reason in evaluation.reasons]


# Seed 003, example 1: 新人专享满68减10, order-wide.
NEW_CUSTOMER = cash(1, 10, rule("MINIMUM_SPEND", amount=68), alone())
# Seed 003, example 2: 烤鸭节满100减20 on the roast-duck category only.
DUCK_FESTIVAL = cash(
    2,
    20,
    rule("MINIMUM_SPEND", amount=100),
    rule("ITEM_ELIGIBILITY", category_ids=["cat-roast-duck"], logic="ANY"),
    rule("ITEM_DISCOUNT_SCOPE", category_ids=["cat-roast-duck"]),
    alone(),
)
# Seed 003, example 3: 购买主食赠酸梅汤.
PLUM_DRINK = gift(3, rule("CONDITIONAL_GIFT_ITEM", required_category_ids=["cat-main-course"]))


@pytest.mark.parametrize(
    ("lines", "usable", "discount"),
    [
        ([line("d-101", "cat-roast-duck", "68.00")], True, "10.00"),
        ([line("d-101", "cat-roast-duck", "40.00"), line("d-201", "cat-cold", "14.00", 2)], True, "10.00"),
        ([line("d-101", "cat-roast-duck", "67.99")], False, "0.00"),
    ],
)
def test_minimum_spend_new_customer_68_minus_10(lines: list[Any], usable: bool, discount: str) -> None:
    evaluation = one(cart(*lines), NEW_CUSTOMER)

    assert evaluation.usable is usable
    assert evaluation.discount == D(discount)


def test_minimum_spend_reason_says_how_much_is_missing() -> None:
    evaluation = one(cart(line("d-101", "cat-roast-duck", "48.00")), NEW_CUSTOMER)

    assert [(r.code, dict(r.params)) for r in evaluation.reasons] == [
        ("MINIMUM_SPEND", {"amount": "68.00", "subtotal": "48.00", "shortfall": "20.00"})
    ]


def test_duck_festival_threshold_is_measured_on_duck_only() -> None:
    # given 80 roast duck + 30 cold dish: 110 in all, but only 80 in the coupon's scope
    evaluation = one(cart(line("d-101", "cat-roast-duck", "80.00"), line("d-201", "cat-cold", "30.00")), DUCK_FESTIVAL)

    assert not evaluation.usable
    assert [(r.code, r.params["shortfall"]) for r in evaluation.reasons] == [("MINIMUM_SPEND", "20.00")]


def test_duck_festival_discounts_the_duck_lines_only() -> None:
    duck_cart = cart(line("d-101", "cat-roast-duck", "120.00"), line("d-201", "cat-cold", "30.00"))

    evaluation = one(duck_cart, DUCK_FESTIVAL)

    assert evaluation.usable
    assert evaluation.discount == D("20.00")
    assert evaluation.allocation == {"d-101": D("20.00")}
    assert duck_cart.subtotal - evaluation.discount == D("130.00")


def test_duck_festival_without_duck_fails_eligibility_and_scope() -> None:
    evaluation = one(cart(line("d-201", "cat-cold", "130.00")), DUCK_FESTIVAL)

    assert codes(evaluation) == ["ITEM_DISCOUNT_SCOPE", "MINIMUM_SPEND", "ITEM_ELIGIBILITY"]


@pytest.mark.parametrize(
    ("params", "lines", "usable", "missing"),
    [
        ({"item_ids": ["d-101"], "logic": "ANY"}, [("d-101", "cat-roast-duck")], True, None),
        ({"item_ids": ["d-101", "d-102"], "logic": "ANY"}, [("d-102", "cat-roast-duck")], True, None),
        ({"category_ids": ["cat-cold"]}, [("d-101", "cat-roast-duck"), ("d-201", "cat-cold")], True, None),
        ({"item_ids": ["d-999"], "category_ids": ["cat-soup"]}, [("d-101", "cat-roast-duck")], False, "ANY"),
        (
            {"item_ids": ["d-101"], "category_ids": ["cat-cold"], "logic": "ALL"},
            [("d-101", "cat-roast-duck"), ("d-201", "cat-cold")],
            True,
            None,
        ),
        (
            {"item_ids": ["d-101", "d-102"], "category_ids": ["cat-cold"], "logic": "ALL"},
            [("d-101", "cat-roast-duck"), ("d-201", "cat-cold")],
            False,
            "ALL",
        ),
    ],
)
def test_item_eligibility_any_and_all(
    params: dict[str, Any], lines: list[tuple[str, str]], usable: bool, missing: str | None
) -> None:
    coupon = cash(1, 5, rule("ITEM_ELIGIBILITY", **params))

    evaluation = one(cart(*(line(sku, category, "20.00") for sku, category in lines)), coupon)

    assert evaluation.usable is usable
    if missing == "ALL":
        assert dict(evaluation.reasons[0].params) == {"logic": "ALL", "item_ids": ["d-102"], "category_ids": []}
    elif missing == "ANY":
        assert evaluation.reasons[0].code == "ITEM_ELIGIBILITY"
        assert evaluation.reasons[0].params["logic"] == "ANY"


@pytest.mark.parametrize(
    ("scope", "discount", "allocation"),
    [
        ({"item_ids": ["d-101"]}, "10.00", {"d-101": "10.00"}),
        ({"category_ids": ["cat-cold"]}, "10.00", {"d-201": "6.67", "d-202": "3.33"}),
        (
            {"item_ids": ["d-101"], "category_ids": ["cat-cold"]},
            "10.00",
            {"d-101": "5.01", "d-201": "3.33", "d-202": "1.66"},
        ),
    ],
)
def test_item_discount_scope_restricts_the_base(
    scope: dict[str, Any], discount: str, allocation: dict[str, str]
) -> None:
    items = cart(
        line("d-101", "cat-roast-duck", "60.00"), line("d-201", "cat-cold", "40.00"), line("d-202", "cat-cold", "20.00")
    )

    evaluation = one(items, cash(1, 10, rule("ITEM_DISCOUNT_SCOPE", **scope)))

    assert evaluation.discount == D(discount)
    assert evaluation.allocation == {key: D(value) for key, value in allocation.items()}


def test_scope_with_nothing_in_the_cart_is_its_own_reason() -> None:
    evaluation = one(
        cart(line("d-101", "cat-roast-duck", "60.00")), cash(1, 10, rule("ITEM_DISCOUNT_SCOPE", item_ids=["d-5"]))
    )

    assert [(r.code, dict(r.params)) for r in evaluation.reasons] == [
        ("ITEM_DISCOUNT_SCOPE", {"item_ids": ["d-5"], "category_ids": []})
    ]


def test_excluded_items_leave_the_base_and_the_threshold() -> None:
    # given 满100减10 excluding the 50-yuan special: 60 + 50 bought, 60 counts
    coupon = cash(1, 10, rule("MINIMUM_SPEND", amount=100), rule("EXCLUDE_ITEMS", item_ids=["d-205"]))
    items = cart(line("d-101", "cat-roast-duck", "60.00"), line("d-205", "cat-special", "50.00"))

    evaluation = one(items, coupon)

    assert [(r.code, r.params["shortfall"]) for r in evaluation.reasons] == [("MINIMUM_SPEND", "40.00")]
    # and with more duck the discount comes off the duck only
    bigger = one(cart(line("d-101", "cat-roast-duck", "100.00"), line("d-205", "cat-special", "50.00")), coupon)
    assert bigger.allocation == {"d-101": D("10.00")}


def test_excluding_everything_is_its_own_reason() -> None:
    coupon = cash(
        1, 10, rule("ITEM_DISCOUNT_SCOPE", category_ids=["cat-cold"]), rule("EXCLUDE_ITEMS", item_ids=["d-201"])
    )

    evaluation = one(cart(line("d-201", "cat-cold", "60.00"), line("d-101", "cat-roast-duck", "60.00")), coupon)

    assert codes(evaluation) == ["EXCLUDE_ITEMS"]


@pytest.mark.parametrize(
    ("lines", "usable"),
    [
        ([line("d-301", "cat-main-course", "12.00"), line("d-201", "cat-cold", "30.00")], True),
        ([line("d-201", "cat-cold", "30.00")], False),
    ],
)
def test_plum_drink_with_any_staple(lines: list[Any], usable: bool) -> None:
    evaluation = one(cart(*lines), PLUM_DRINK)

    assert evaluation.usable is usable
    assert evaluation.discount == D("0.00")
    if usable:
        (drink,) = evaluation.gifts
        assert (drink.sku, drink.name, drink.quantity, drink.unit_worth, drink.worth) == (
            "d-901",
            "酸梅汤",
            1,
            D("6.00"),
            D("6.00"),
        )
        assert evaluation.benefit == D("6.00")
    else:
        assert [(r.code, dict(r.params)) for r in evaluation.reasons] == [
            ("CONDITIONAL_GIFT_ITEM", {"required_item_ids": [], "required_category_ids": ["cat-main-course"]})
        ]


@pytest.mark.parametrize(("spent", "usable"), [("200.00", True), ("199.99", False)])
def test_spend_for_gift(spent: str, usable: bool) -> None:
    coupon = gift(1, rule("SPEND_FOR_GIFT", amount=200), quantity=2)

    evaluation = one(cart(line("d-101", "cat-roast-duck", spent)), coupon)

    assert evaluation.usable is usable
    assert evaluation.benefit == (D("12.00") if usable else D("0.00"))
    if not usable:
        assert [(r.code, r.params["shortfall"]) for r in evaluation.reasons] == [("SPEND_FOR_GIFT", "0.01")]


def test_spend_for_gift_is_measured_without_excluded_items() -> None:
    coupon = gift(1, rule("SPEND_FOR_GIFT", amount=100), rule("EXCLUDE_ITEMS", category_ids=["cat-drink"]))

    evaluation = one(cart(line("d-101", "cat-roast-duck", "90.00"), line("d-801", "cat-drink", "30.00")), coupon)

    assert codes(evaluation) == ["SPEND_FOR_GIFT"]


def test_gift_that_is_not_on_the_menu_is_unavailable() -> None:
    evaluation = one(cart(line("d-101", "cat-roast-duck", "90.00")), gift(1, price=None))

    assert [(r.code, dict(r.params)) for r in evaluation.reasons] == [("GIFT_UNAVAILABLE", {"sku": "d-901"})]


LUNCH = rule("VALID_TIME_SLOTS", slots=[{"start": "11:00", "end": "14:00"}])
LATE_NIGHT = rule("VALID_TIME_SLOTS", slots=[{"start": "22:00", "end": "02:00"}])


@pytest.mark.parametrize(
    ("slots", "hour", "minute", "usable"),
    [
        (LUNCH, 11, 0, True),
        (LUNCH, 13, 59, True),
        (LUNCH, 14, 0, False),
        (LUNCH, 10, 59, False),
        (LATE_NIGHT, 23, 30, True),
        (LATE_NIGHT, 0, 0, True),
        (LATE_NIGHT, 1, 59, True),
        (LATE_NIGHT, 2, 0, False),
        (LATE_NIGHT, 21, 59, False),
    ],
)
def test_time_slots_start_included_end_excluded(slots: dict[str, Any], hour: int, minute: int, usable: bool) -> None:
    now = NOON_SATURDAY.replace(hour=hour, minute=minute)

    evaluation = one(cart(line("d-101", "cat-roast-duck", "50.00")), cash(1, 5, slots), now=now)

    assert evaluation.usable is usable
    if not usable:
        assert evaluation.reasons[0].code == "VALID_TIME_SLOTS"
        assert evaluation.reasons[0].params["time"] == f"{hour:02d}:{minute:02d}"


def test_time_slot_is_read_in_the_business_time_zone() -> None:
    # 04:30 UTC is 12:30 in Shanghai: lunch; 07:00 UTC is 15:00 in Shanghai: not lunch
    coupon = cash(1, 5, LUNCH)
    items = cart(line("d-101", "cat-roast-duck", "50.00"))

    assert one(items, coupon, now=datetime(2024, 5, 4, 4, 30, tzinfo=UTC)).usable
    late = one(items, coupon, now=datetime(2024, 5, 4, 7, 0, tzinfo=UTC))
    assert [(r.code, dict(r.params)) for r in late.reasons] == [
        ("VALID_TIME_SLOTS", {"slots": ["11:00-14:00"], "time": "15:00"})
    ]


@pytest.mark.parametrize(
    ("now", "usable"),
    [
        (datetime(2024, 5, 4, 12, 0, tzinfo=SHANGHAI), True),  # Saturday
        (datetime(2024, 5, 5, 23, 59, tzinfo=SHANGHAI), True),  # Sunday
        (datetime(2024, 5, 3, 12, 0, tzinfo=SHANGHAI), False),  # Friday
        (datetime(2024, 5, 3, 16, 30, tzinfo=UTC), True),  # Friday in UTC, Saturday 00:30 in Shanghai
        (datetime(2024, 5, 5, 16, 30, tzinfo=UTC), False),  # Sunday in UTC, Monday in Shanghai
    ],
)
def test_weekend_days_in_the_business_time_zone(now: datetime, usable: bool) -> None:
    evaluation = one(
        cart(line("d-101", "cat-roast-duck", "50.00")), cash(1, 5, rule("VALID_DAYS_OF_WEEK", days=[6, 7])), now=now
    )

    assert evaluation.usable is usable
    if not usable:
        assert evaluation.reasons[0].code == "VALID_DAYS_OF_WEEK"
        assert evaluation.reasons[0].params["days"] == [6, 7]


@pytest.mark.parametrize(("channel", "usable"), [("APP", True), ("MINI_PROGRAM", True), ("POS", False), ("WEB", False)])
def test_channels(channel: str, usable: bool) -> None:
    coupon = cash(1, 5, rule("CHANNELS", channels=["APP", "MINI_PROGRAM"]))

    evaluation = one(cart(line("d-101", "cat-roast-duck", "50.00")), coupon, channel=channel)

    assert evaluation.usable is usable
    if not usable:
        assert dict(evaluation.reasons[0].params) == {"channel": channel, "channels": ["APP", "MINI_PROGRAM"]}


@pytest.mark.parametrize(
    ("valid_from", "expires_at", "code"),
    [
        (None, NOON_SATURDAY, "EXPIRED"),  # now >= expires_at
        (None, NOON_SATURDAY - timedelta(days=1), "EXPIRED"),
        (NOON_SATURDAY + timedelta(seconds=1), None, "NOT_YET_VALID"),
        (NOON_SATURDAY, NOON_SATURDAY + timedelta(seconds=1), None),
        (None, None, None),
    ],
)
def test_validity_window(valid_from: datetime | None, expires_at: datetime | None, code: str | None) -> None:
    coupon = cash(1, 5, valid_from=valid_from, expires_at=expires_at)

    evaluation = one(cart(line("d-101", "cat-roast-duck", "50.00")), coupon)

    assert codes(evaluation) == ([code] if code else [])


def test_validity_reasons_show_business_local_time() -> None:
    expired = cash(1, 5, expires_at=datetime(2024, 5, 1, 2, 0, tzinfo=UTC))
    future = cash(2, 5, valid_from=datetime(2024, 6, 1, 16, 0, tzinfo=UTC))

    first, second = evaluate(cart(line("d-101", "cat-roast-duck", "50.00")), [expired, future], ctx())

    assert dict(first.reasons[0].params) == {"expires_at": "2024-05-01 10:00"}
    assert dict(second.reasons[0].params) == {"valid_from": "2024-06-02 00:00"}


def test_every_failing_check_is_reported() -> None:
    coupon = percent(
        1,
        10,
        rule("MINIMUM_SPEND", amount=100),
        rule("CHANNELS", channels=["POS"]),
        rule("VALID_DAYS_OF_WEEK", days=[1]),
        LUNCH,
        expires_at=NOON_SATURDAY,
    )

    evaluation = one(cart(line("d-101", "cat-roast-duck", "50.00")), coupon, now=NOON_SATURDAY.replace(hour=20))

    assert codes(evaluation) == ["EXPIRED", "MINIMUM_SPEND", "CHANNELS", "VALID_DAYS_OF_WEEK", "VALID_TIME_SLOTS"]


def test_a_coupon_whose_stored_definition_is_broken_is_not_usable() -> None:
    broken = Coupon(1, "CASH_VOUCHER", {"amount": "5"}, [rule("MIN_SPEND", amount=5)])

    evaluation = one(cart(line("d-101", "cat-roast-duck", "50.00")), broken)

    assert [(r.code, dict(r.params)) for r in evaluation.reasons] == [
        ("INVALID_DEFINITION", {"problems": ["usage_rules:UNKNOWN_RULE"]})
    ]


def test_an_empty_cart_uses_no_coupon() -> None:
    assert codes(one(cart(), cash(1, 5))) == ["EMPTY_CART"]
