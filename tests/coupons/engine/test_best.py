"""The best combination: known answers, tie-breaks, and equality with trying every subset."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from coupons.engine import Cart, Coupon, best_combination, preview
from coupons.engine import best as engine_best
from coupons.engine.best import NODE_BUDGET
from tests.coupons.engine.builders import D, cart, cash, ctx, gift, line, percent, red_packet, rule, stacks
from tests.coupons.engine.strategies import brute_force, carts, wallets

ITEMS = cart(line("d-101", "cat-roast-duck", "120.00"), line("d-201", "cat-cold", "30.00"))


def best_ids(items: Cart, coupons: list[Coupon]) -> tuple[int, ...]:
    return best_combination(items, coupons, ctx()).coupon_ids


def test_no_coupon_when_none_is_usable() -> None:
    best = best_combination(ITEMS, [cash(1, 10, rule("MINIMUM_SPEND", amount=500))], ctx())

    assert best.ok
    assert (best.coupon_ids, best.discount_total, best.total) == ((), D("0.00"), D("150.00"))


def test_a_big_lone_coupon_beats_a_stack_of_small_ones_and_the_reverse() -> None:
    small = [cash(2, 8, stacks()), cash(3, 8, stacks())]

    assert best_ids(ITEMS, [cash(1, 20), *small]) == (1,)
    assert best_ids(ITEMS, [cash(1, 15), *small]) == (2, 3)


def test_a_gift_counts_at_its_menu_price() -> None:
    assert best_ids(ITEMS, [cash(1, 5), gift(2, price="6.00")]) == (2,)
    assert best_ids(ITEMS, [cash(1, 7), gift(2, price="6.00")]) == (1,)
    best = best_combination(ITEMS, [cash(1, 5, stacks()), gift(2, stacks(), price="6.00")], ctx())
    assert (best.coupon_ids, best.discount_total, best.gift_worth, best.benefit) == (
        (1, 2),
        D("5.00"),
        D("6.00"),
        D("11.00"),
    )


def test_percentage_after_cash_is_counted_on_what_is_left() -> None:
    # 50 % of 150 = 75 alone; 10 cash first then 50 % of 140 = 70: 80 together
    best = best_combination(ITEMS, [percent(1, 50, stacks()), cash(2, 10, stacks())], ctx())

    assert [(r.coupon_id, r.discount) for r in best.coupons] == [(2, D("10.00")), (1, D("70.00"))]
    assert best.discount_total == D("80.00")


def test_the_bound_keeps_the_half_cent_of_round_half_up() -> None:
    # 0.01 % of 50.10 is 0.501 cent and of 50.09 is 0.5009 cent: each rounds half-up to a whole cent, so
    # the percentage adds a cent after the cash coupon too. Both together (0.02) beat either alone.
    items = cart(line("d-101", "cat-roast-duck", "50.10"))

    best = best_combination(items, [cash(1, "0.01", stacks()), percent(2, "0.01", stacks())], ctx())

    assert [(r.coupon_id, r.discount) for r in best.coupons] == [(1, D("0.01")), (2, D("0.01"))]
    assert best.discount_total == D("0.02")


def test_exclusions_pick_the_better_side() -> None:
    coupons = [
        cash(1, 10, stacks("PERCENTAGE_DISCOUNT")),
        cash(2, 10, stacks("PERCENTAGE_DISCOUNT")),
        percent(3, 12, stacks(), max_off=20),
        red_packet(4, "3.00", stacks()),
    ]

    # 10 + 10 + 3 = 23 against 18 (12 % of 150) + 3 (12 % of 147 is 17.64 after the packet: 20.64)
    assert best_ids(ITEMS, coupons) == (1, 2, 4)
    assert best_ids(ITEMS, [*coupons[2:], cash(5, 2, stacks("PERCENTAGE_DISCOUNT"))]) == (4, 3)


def test_coupons_that_exclude_their_own_type_take_one_of_that_type() -> None:
    coupons = [cash(1, 5, stacks("CASH_VOUCHER")), cash(2, 9, stacks("CASH_VOUCHER")), percent(3, 10, stacks())]

    assert best_ids(ITEMS, coupons) == (2, 3)


def test_ties_go_to_fewer_coupons_then_to_the_stacking_order() -> None:
    # 20 alone against 10 + 10 stacked: fewer coupons
    assert best_ids(ITEMS, [cash(5, 10, stacks()), cash(6, 10, stacks()), cash(9, 20)]) == (9,)
    # equal single coupons: the lower id
    assert best_ids(ITEMS, [cash(8, 10), cash(7, 10)]) == (7,)
    # an item-scoped coupon comes first in the stacking order, whatever its id
    scoped = cash(8, 10, rule("ITEM_DISCOUNT_SCOPE", item_ids=["d-101"]))
    assert best_ids(ITEMS, [cash(7, 10), scoped]) == (8,)


def test_identical_coupons_beyond_the_base_are_left_for_later() -> None:
    scoped = [rule("ITEM_DISCOUNT_SCOPE", item_ids=["d-201"]), stacks()]
    coupons = [cash(coupon_id, 5, *scoped) for coupon_id in range(1, 11)]

    best = best_combination(ITEMS, coupons, ctx())

    assert best.coupon_ids == (1, 2, 3, 4, 5, 6)
    assert best.discount_total == D("30.00")


def test_preview_gives_standalone_figures_and_the_best() -> None:
    coupons = [cash(1, 10, rule("MINIMUM_SPEND", amount=500)), percent(2, 10, stacks()), cash(3, 5, stacks())]

    result = preview(ITEMS, coupons, ctx())

    assert [(e.coupon_id, e.usable, e.discount) for e in result.evaluations] == [
        (1, False, D("0.00")),
        (2, True, D("15.00")),
        (3, True, D("5.00")),
    ]
    assert (result.best.coupon_ids, result.best.discount_total) == ((3, 2), D("19.50"))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cart_=carts(), wallet=wallets(max_size=8))
def test_best_equals_brute_force(cart_: Cart, wallet: list[Coupon]) -> None:
    assert best_combination(cart_, wallet, ctx()) == brute_force(cart_, wallet, ctx())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cart_=carts(), wallet=wallets(min_size=9, max_size=10))
def test_best_equals_brute_force_with_ten_coupons(cart_: Cart, wallet: list[Coupon]) -> None:
    assert best_combination(cart_, wallet, ctx()) == brute_force(cart_, wallet, ctx())


@pytest.mark.parametrize("groups", ["per pick", "per set of types"])
def test_best_equals_brute_force_when_coupons_crowd_a_small_base(monkeypatch, groups) -> None:
    if groups == "per set of types":
        monkeypatch.setattr(engine_best, "CHOICE_GROUPS_MAX", 0)
    # given twelve stackable coupons: more cash than the cold dishes can give, percentages after it,
    # same-type exclusions; many subsets reach the same state
    items = cart(
        line("d-101", "cat-roast-duck", "88.00"),
        line("d-201", "cat-cold", "12.50"),
        line("d-202", "cat-cold", "9.90", 2),
    )
    cold = rule("ITEM_DISCOUNT_SCOPE", category_ids=["cat-cold"])
    coupons = [
        cash(1, 10, cold, stacks()),
        cash(2, 8, cold, stacks()),
        cash(3, 8, cold, stacks()),
        cash(4, 15, cold, stacks("CASH_VOUCHER")),
        percent(5, 30, cold, stacks()),
        percent(6, 10, stacks()),
        percent(7, 12, stacks(), max_off=5),
        percent(8, 50, stacks("PERCENTAGE_DISCOUNT")),
        red_packet(9, "3.33", stacks()),
        red_packet(10, "8.88", stacks("FREE_ITEM")),
        cash(11, 20, rule("EXCLUDE_ITEMS", item_ids=["d-101"]), stacks()),
        gift(12, stacks("RANDOM_CASH")),
    ]

    assert best_combination(items, coupons, ctx()) == brute_force(items, coupons, ctx())


# wallets that used to take seconds to minutes -------------------------------------------------------


def counted_nodes(monkeypatch) -> list[int]:
    """The nodes the searches of the next best_choice visit (a count, not a timing)."""
    nodes = [0]
    visit = engine_best._Search._visit

    def counting(self, *args, **kwargs):
        nodes[0] += 1
        return visit(self, *args, **kwargs)

    monkeypatch.setattr(engine_best._Search, "_visit", counting)
    return nodes


def test_many_claims_of_templates_that_exclude_their_own_type_are_searched_once_per_set_of_types(monkeypatch):
    # twelve claims of each of four "not with another coupon of its type" templates: 13^4 groups before
    wallet = []
    for i in range(12):
        wallet += [
            cash(4 * i + 1, 5, stacks("CASH_VOUCHER")),
            percent(4 * i + 2, 12, stacks("PERCENTAGE_DISCOUNT"), max_off=20),
            red_packet(4 * i + 3, "3.00", stacks("RANDOM_CASH")),
            gift(4 * i + 4, stacks("FREE_ITEM")),
        ]
    nodes = counted_nodes(monkeypatch)

    best = best_combination(cart(line("d-101", "cat-roast-duck", "128.00")), wallet, ctx())

    assert best.coupon_ids == (1, 3, 2, 4)  # one of each type, the first claimed of each
    assert nodes[0] < 2_000


@pytest.mark.parametrize("groups", ["per pick", "per set of types"])
def test_one_of_its_own_type_stays_exact_with_twins_between_other_coupons(monkeypatch, groups) -> None:
    if groups == "per set of types":
        monkeypatch.setattr(engine_best, "CHOICE_GROUPS_MAX", 0)
    # the same template claimed twice, another coupon of its stacking rank between the two claims
    items = cart(line("d-101", "cat-roast-duck", "88.00"), line("d-201", "cat-cold", "12.50"))
    cold = rule("ITEM_DISCOUNT_SCOPE", category_ids=["cat-cold"])
    coupons = [
        cash(1, 10, stacks("CASH_VOUCHER")),
        cash(2, 12, cold, stacks()),
        cash(3, 10, stacks("CASH_VOUCHER")),
        percent(4, 10, stacks("PERCENTAGE_DISCOUNT"), max_off=5),
        percent(5, 15, cold, stacks()),
        percent(6, 10, stacks("PERCENTAGE_DISCOUNT"), max_off=5),
        gift(7, stacks("FREE_ITEM")),
        gift(8, stacks()),
    ]

    assert best_combination(items, coupons, ctx()) == brute_force(items, coupons, ctx())


def test_a_search_past_its_budget_answers_with_the_best_found_so_far(monkeypatch):
    # forty stackable coupons whose percentages add up to far over 100 %: millions of nodes, exactly
    wallet = [percent(i, [10, 15, 20][i % 3], stacks()) for i in range(1, 21)]
    wallet += [cash(100 + i, ["5.00", "8.00", "12.00"][i % 3], stacks()) for i in range(20)]
    prices = ["128.00", "68.00", "18.00", "32.00", "22.00", "26.00", "8.00", "12.00"]
    items = cart(*(line(f"d-{i}", f"cat-{i % 4}", price) for i, price in enumerate(prices)))
    nodes = counted_nodes(monkeypatch)
    warned: list[str] = []
    monkeypatch.setattr(engine_best.logger, "warning", lambda message, *args: warned.append(message % args))

    first = best_combination(items, wallet, ctx())
    again = best_combination(items, wallet, ctx())

    assert nodes[0] <= 2 * (NODE_BUDGET + 100)  # both searches stopped at the budget
    assert first == again  # the preview and the order that follows it get the same answer
    assert first.discount_total > D("200.00") and first.ok
    assert len(warned) == 2 and "search stopped after 50000 nodes (40 usable coupons)" in warned[0]
