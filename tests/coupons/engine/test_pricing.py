"""Coupon types, allocation and stacking: what a coupon or a chosen combination takes, from which lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from coupons.engine import Coupon, apply_coupons, evaluate, to_money
from coupons.engine.allocation import allocate
from tests.coupons.engine.builders import (
    D,
    alone,
    cart,
    cash,
    ctx,
    gift,
    line,
    percent,
    red_packet,
    rule,
    stacks,
)


def test_to_money_rounds_half_up_and_refuses_floats() -> None:
    assert to_money("1.005") == D("1.01")
    assert to_money("1.004") == D("1.00")
    assert to_money(3) == D("3.00")
    assert str(to_money(Decimal("2.5"))) == "2.50"
    with pytest.raises(TypeError):
        to_money(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("discount", "left", "expected"),
    [
        # proportional, rounded down, the cent left over on the largest line
        (1000, [6000, 4000, 2000], [(0, 501), (1, 333), (2, 166)]),
        # equal lines: the tie goes to the lowest index (the first line key)
        (100, [1000, 1000, 1000], [(0, 34), (1, 33), (2, 33)]),
        # everything
        (3001, [1000, 2001], [(0, 1000), (1, 2001)]),
        # the largest line has no room left for the remainder: it spills to the next largest
        (299, [100, 100, 100], [(0, 100), (1, 100), (2, 99)]),
        (3, [1, 1, 1, 0], [(0, 1), (1, 1), (2, 1)]),
        (0, [500], []),
    ],
)
def test_allocation_table(discount: int, left: list[int], expected: list[tuple[int, int]]) -> None:
    shares = allocate(discount, range(len(left)), left)

    assert shares == expected
    assert sum(cents for _, cents in shares) == discount


def test_allocation_never_takes_more_than_is_left() -> None:
    with pytest.raises(ValueError):
        allocate(301, [0, 1], [100, 200])


@pytest.mark.parametrize(
    ("amount", "subtotal", "discount"),
    [(10, "68.00", "10.00"), ("10.50", "100.00", "10.50"), (50, "30.00", "30.00")],
)
def test_cash_voucher_takes_its_amount_but_never_more_than_the_base(amount: Any, subtotal: str, discount: str) -> None:
    (evaluation,) = evaluate(cart(line("d-101", "cat-roast-duck", subtotal)), [cash(1, amount)], ctx())

    assert evaluation.discount == D(discount)


@pytest.mark.parametrize(
    ("value", "subtotal", "discount"),
    [
        # 全场8.8折最高优惠20元: 12 % off, at most 20
        ({"percentage": 12, "max_off": 20}, "100.00", "12.00"),
        ({"percentage": 12, "max_off": 20}, "166.66", "20.00"),
        ({"percentage": 12, "max_off": 20}, "300.00", "20.00"),
        # {"max_off": 20, "percentage": 15}: 15 % off, at most 20
        ({"percentage": 15, "max_off": 20}, "100.00", "15.00"),
        ({"percentage": 15, "max_off": 20}, "200.00", "20.00"),
        ({"percentage": 15}, "200.00", "30.00"),
        # half up to the cent
        ({"percentage": 15}, "0.10", "0.02"),
        ({"percentage": 12}, "10.45", "1.25"),
        ({"percentage": "12.5"}, "0.04", "0.01"),
        ({"percentage": 100}, "37.77", "37.77"),
    ],
)
def test_percentage_discount(value: dict[str, Any], subtotal: str, discount: str) -> None:
    coupon = Coupon(1, "PERCENTAGE_DISCOUNT", value, [])

    (evaluation,) = evaluate(cart(line("d-101", "cat-roast-duck", subtotal)), [coupon], ctx())

    assert evaluation.discount == D(discount)


def test_a_percentage_that_rounds_to_nothing_takes_nothing() -> None:
    (evaluation,) = evaluate(cart(line("d-101", "cat-roast-duck", "0.04")), [percent(1, 10)], ctx())

    assert not evaluation.usable
    assert [r.code for r in evaluation.reasons] == ["NO_BENEFIT"]


def test_random_red_packet_uses_the_issued_amount_as_cash() -> None:
    items = cart(line("d-101", "cat-roast-duck", "30.00"), line("d-201", "cat-cold", "10.00"))

    (evaluation,) = evaluate(items, [red_packet(1, "5.27")], ctx())

    assert evaluation.discount == D("5.27")
    assert evaluation.allocation == {"d-101": D("3.96"), "d-201": D("1.31")}


def test_random_red_packet_without_an_issued_amount_is_not_usable() -> None:
    coupon = Coupon(1, "RANDOM_CASH", {"min_amount": "1.00", "max_amount": "8.88"}, [])

    (evaluation,) = evaluate(cart(line("d-101", "cat-roast-duck", "30.00")), [coupon], ctx())

    assert [(r.code, dict(r.params)) for r in evaluation.reasons] == [
        ("INVALID_DEFINITION", {"problems": ["amount:REQUIRED"]})
    ]


def test_free_item_adds_a_gift_worth_its_menu_price_and_takes_no_money() -> None:
    items = cart(line("d-301", "cat-main-course", "12.00"))

    application = apply_coupons(items, [gift(1, quantity=2)], ctx())

    assert application.ok
    assert application.discount_total == D("0.00")
    assert application.total == D("12.00")
    (drink,) = application.gifts
    assert (drink.sku, drink.quantity, drink.unit_worth, drink.worth) == ("d-901", 2, D("6.00"), D("12.00"))
    assert application.benefit == D("12.00")


def test_applying_one_coupon_gives_the_breakdown() -> None:
    items = cart(line("d-101", "cat-roast-duck", "120.00"), line("d-201", "cat-cold", "30.00"))

    application = apply_coupons(
        items, [cash(7, 20, rule("ITEM_DISCOUNT_SCOPE", category_ids=["cat-roast-duck"]))], ctx()
    )

    assert application.ok
    assert application.coupon_ids == (7,)
    assert (application.subtotal, application.discount_total, application.total) == (
        D("150.00"),
        D("20.00"),
        D("130.00"),
    )
    assert application.line_discounts == {"d-101": D("20.00"), "d-201": D("0.00")}
    assert application.coupons[0].allocation == {"d-101": D("20.00")}


def test_stacking_order_scoped_cash_scoped_percentage_cash_percentage() -> None:
    # given, deliberately listed out of order
    coupons = [
        percent(1, 10, stacks()),  # order-wide percentage: last
        cash(3, 10, stacks()),  # order-wide cash: third
        percent(4, 50, stacks(), rule("ITEM_DISCOUNT_SCOPE", category_ids=["cat-roast-duck"])),  # second
        cash(2, 20, stacks(), rule("ITEM_DISCOUNT_SCOPE", item_ids=["d-101"])),  # first
    ]
    items = cart(line("d-101", "cat-roast-duck", "100.00"), line("d-201", "cat-cold", "50.00"))

    application = apply_coupons(items, coupons, ctx())

    # then: duck 100 -20 = 80, -50 % = 40; cash 10 over 40 + 50; 10 % of the 80 left
    assert application.ok
    assert [(r.coupon_id, r.discount) for r in application.coupons] == [
        (2, D("20.00")),
        (4, D("40.00")),
        (3, D("10.00")),
        (1, D("8.00")),
    ]
    assert application.coupons[2].allocation == {"d-101": D("4.44"), "d-201": D("5.56")}
    assert application.coupons[3].allocation == {"d-101": D("3.55"), "d-201": D("4.45")}
    assert application.line_discounts == {"d-101": D("67.99"), "d-201": D("10.01")}
    assert (application.discount_total, application.total) == (D("78.00"), D("72.00"))


def test_cash_before_percentage_within_the_same_scope() -> None:
    items = cart(line("d-101", "cat-roast-duck", "100.00"))

    application = apply_coupons(items, [percent(1, 10, stacks()), cash(2, 10, stacks())], ctx())

    assert [(r.coupon_id, r.discount) for r in application.coupons] == [(2, D("10.00")), (1, D("9.00"))]


def test_thresholds_are_measured_at_menu_prices_before_any_coupon() -> None:
    # given 110 bought; the scoped 20 leaves 90 but 满100减10 still counts the 110
    items = cart(line("d-101", "cat-roast-duck", "100.00"), line("d-201", "cat-cold", "10.00"))
    coupons = [
        cash(1, 20, stacks(), rule("ITEM_DISCOUNT_SCOPE", item_ids=["d-101"])),
        cash(2, 10, stacks(), rule("MINIMUM_SPEND", amount=100)),
    ]

    application = apply_coupons(items, coupons, ctx())

    assert application.ok
    assert application.discount_total == D("30.00")


def test_the_discount_never_exceeds_the_subtotal() -> None:
    items = cart(line("d-101", "cat-roast-duck", "15.00"))

    application = apply_coupons(items, [cash(1, 10, stacks()), percent(2, 100, stacks())], ctx())

    assert application.ok
    assert (application.discount_total, application.total) == (D("15.00"), D("0.00"))


def test_a_coupon_left_with_nothing_to_take_refuses_the_choice() -> None:
    items = cart(line("d-101", "cat-roast-duck", "10.00"), line("d-201", "cat-cold", "50.00"))
    scoped = [rule("ITEM_DISCOUNT_SCOPE", item_ids=["d-101"]), stacks()]

    application = apply_coupons(items, [cash(1, 10, *scoped), cash(2, 5, *scoped)], ctx())

    assert not application.ok
    assert {cid: [r.code for r in reasons] for cid, reasons in application.refused.items()} == {2: ["NO_BENEFIT"]}
    assert (application.discount_total, application.total, application.coupons) == (D("0.00"), D("60.00"), ())


def test_a_coupon_that_does_not_stack_stands_alone() -> None:
    items = cart(line("d-101", "cat-roast-duck", "100.00"))

    for lonely in (cash(1, 10), cash(1, 10, alone())):
        application = apply_coupons(items, [lonely, cash(2, 5, stacks())], ctx())

        assert not application.ok
        assert {cid: [(r.code, dict(r.params)) for r in reasons] for cid, reasons in application.refused.items()} == {
            1: [("NOT_STACKABLE", {"coupon_ids": [2]})],
            2: [("NOT_STACKABLE", {"coupon_ids": [1]})],
        }
        # alone it is fine
        assert apply_coupons(items, [lonely], ctx()).ok


@pytest.mark.parametrize("naming_side", ["cash", "percentage"])
def test_type_exclusions_hold_both_ways(naming_side: str) -> None:
    items = cart(line("d-101", "cat-roast-duck", "100.00"))
    if naming_side == "cash":
        coupons = [cash(1, 10, stacks("PERCENTAGE_DISCOUNT")), percent(2, 10, stacks())]
    else:
        coupons = [cash(1, 10, stacks()), percent(2, 10, stacks("CASH_VOUCHER"))]

    application = apply_coupons(items, coupons, ctx())

    assert not application.ok
    assert {cid: [(r.code, dict(r.params)) for r in reasons] for cid, reasons in application.refused.items()} == {
        1: [("EXCLUDED_COUPON_TYPE", {"coupon_ids": [2], "coupon_types": ["PERCENTAGE_DISCOUNT"]})],
        2: [("EXCLUDED_COUPON_TYPE", {"coupon_ids": [1], "coupon_types": ["CASH_VOUCHER"]})],
    }


def test_a_coupon_that_excludes_its_own_type_stacks_with_other_types_only() -> None:
    items = cart(line("d-101", "cat-roast-duck", "100.00"))
    own_kind = cash(1, 10, stacks("CASH_VOUCHER"))

    assert apply_coupons(items, [own_kind, percent(2, 10, stacks())], ctx()).ok
    refused = apply_coupons(items, [own_kind, cash(3, 5, stacks())], ctx()).refused
    assert sorted(refused) == [1, 3]


def test_unusable_coupons_in_a_choice_carry_their_own_reasons() -> None:
    items = cart(line("d-101", "cat-roast-duck", "50.00"))

    application = apply_coupons(items, [cash(1, 10, rule("MINIMUM_SPEND", amount=68)), gift(2, price=None)], ctx())

    assert not application.ok
    assert {cid: [r.code for r in reasons] for cid, reasons in application.refused.items()} == {
        1: ["MINIMUM_SPEND", "NOT_STACKABLE"],
        2: ["GIFT_UNAVAILABLE", "NOT_STACKABLE"],
    }


def test_the_same_coupon_twice_is_refused() -> None:
    items = cart(line("d-101", "cat-roast-duck", "50.00"))

    application = apply_coupons(items, [cash(1, 10, stacks()), cash(1, 10, stacks())], ctx())

    assert {cid: [r.code for r in reasons] for cid, reasons in application.refused.items()} == {1: ["DUPLICATE_COUPON"]}


def test_no_coupon_is_a_valid_choice() -> None:
    items = cart(line("d-101", "cat-roast-duck", "50.00", 2))

    application = apply_coupons(items, [], ctx())

    assert application.ok
    assert (application.subtotal, application.discount_total, application.total) == (
        D("100.00"),
        D("0.00"),
        D("100.00"),
    )


def test_lines_with_the_same_sku_are_told_apart_by_key() -> None:
    items = cart(line("d-101", "cat-roast-duck", "30.00", key="1"), line("d-101", "cat-roast-duck", "10.00", key="2"))

    application = apply_coupons(items, [cash(1, 4)], ctx())

    assert application.line_discounts == {"1": D("3.00"), "2": D("1.00")}
    with pytest.raises(ValueError):
        cart(line("d-101", "cat-roast-duck", "30.00"), line("d-101", "cat-roast-duck", "10.00"))
