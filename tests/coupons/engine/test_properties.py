"""Invariants of pricing, on random carts and wallets."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coupons.engine import Application, Cart, Coupon, apply_coupons, evaluate, preview
from tests.coupons.engine.builders import ctx
from tests.coupons.engine.strategies import carts, wallets

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def is_money(value: Any) -> bool:
    return isinstance(value, Decimal) and value.as_tuple().exponent == -2


def base_refs(cart: Cart, coupon: Coupon) -> set[str]:
    """The coupon's discount base, worked out from its rules without the engine."""
    refs = set()
    for line in cart.lines:
        keep = True
        for item in coupon.usage_rules:
            params = item["params"]
            selected = line.sku in params.get("item_ids", []) or line.category in params.get("category_ids", [])
            if item["rule_type"] == "ITEM_DISCOUNT_SCOPE" and not selected:
                keep = False
            if item["rule_type"] == "EXCLUDE_ITEMS" and selected:
                keep = False
        if keep:
            refs.add(line.ref)
    return refs


def check_application(cart: Cart, application: Application) -> None:
    amounts = {line.ref: line.amount for line in cart.lines}
    assert all(is_money(v) for v in (application.subtotal, application.discount_total, application.total))
    assert application.subtotal == cart.subtotal
    assert application.total == application.subtotal - application.discount_total
    assert application.total >= 0
    assert application.discount_total >= 0
    assert set(application.line_discounts) == set(amounts)
    assert sum(application.line_discounts.values()) == application.discount_total
    for ref, taken in application.line_discounts.items():
        assert is_money(taken) and 0 <= taken <= amounts[ref]
    assert sum(result.discount for result in application.coupons) == application.discount_total
    for result in application.coupons:
        assert is_money(result.discount) and result.discount >= 0
        assert sum(result.allocation.values(), Decimal("0.00")) == result.discount
        assert all(is_money(v) and v > 0 for v in result.allocation.values())
    if not application.ok:
        assert application.refused and not application.coupons and application.discount_total == 0


@FAST
@given(cart_=carts(), wallet=wallets())
def test_standalone_discount_is_within_the_base(cart_: Cart, wallet: list[Coupon]) -> None:
    amounts = {line.ref: line.amount for line in cart_.lines}

    for coupon, evaluation in zip(wallet, evaluate(cart_, wallet, ctx()), strict=True):
        base = base_refs(cart_, coupon)
        assert evaluation.coupon_id == coupon.id
        assert is_money(evaluation.discount) and evaluation.discount >= 0
        assert evaluation.discount <= sum((amounts[ref] for ref in base), Decimal("0.00"))
        assert set(evaluation.allocation) <= base
        assert sum(evaluation.allocation.values(), Decimal("0.00")) == evaluation.discount
        assert evaluation.usable == (not evaluation.reasons)
        if not evaluation.usable:
            assert evaluation.discount == 0 and not evaluation.gifts
        elif coupon.type != "FREE_ITEM":
            assert evaluation.discount > 0


@FAST
@given(cart_=carts(), wallet=wallets(), picks=st.lists(st.booleans(), min_size=10, max_size=10))
def test_any_chosen_combination_adds_up(cart_: Cart, wallet: list[Coupon], picks: list[bool]) -> None:
    chosen = [coupon for coupon, pick in zip(wallet, picks, strict=False) if pick]

    application = apply_coupons(cart_, chosen, ctx())

    check_application(cart_, application)
    if application.ok:
        assert sorted(application.coupon_ids) == sorted(c.id for c in chosen)
    else:
        assert set(application.refused) <= {c.id for c in chosen}


@FAST
@given(cart_=carts(), wallet=wallets(), data=st.data())
def test_results_do_not_depend_on_the_order_of_lines_or_coupons(
    cart_: Cart, wallet: list[Coupon], data: st.DataObject
) -> None:
    shuffled_cart = Cart(tuple(data.draw(st.permutations(cart_.lines))))
    shuffled_wallet = data.draw(st.permutations(wallet))

    first, second = preview(cart_, wallet, ctx()), preview(shuffled_cart, shuffled_wallet, ctx())

    assert first.best == second.best
    assert sorted(first.evaluations, key=lambda e: e.coupon_id) == sorted(second.evaluations, key=lambda e: e.coupon_id)
    assert apply_coupons(cart_, wallet, ctx()) == apply_coupons(shuffled_cart, shuffled_wallet, ctx())


@FAST
@given(cart_=carts(), wallet=wallets())
def test_best_is_applied_consistently_and_beats_every_single_coupon(cart_: Cart, wallet: list[Coupon]) -> None:
    result = preview(cart_, wallet, ctx())
    best = result.best
    chosen = [coupon for coupon in wallet if coupon.id in best.coupon_ids]

    check_application(cart_, best)
    assert best.ok
    assert apply_coupons(cart_, chosen, ctx()) == best
    assert all(best.benefit >= e.benefit for e in result.evaluations if e.usable)
