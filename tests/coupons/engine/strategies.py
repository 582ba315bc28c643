"""Hypothesis strategies for carts and coupon wallets, and the brute-force oracle."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from itertools import combinations
from typing import Any

from hypothesis import strategies as st

from coupons.engine import Application, Cart, CartLine, Context, Coupon, GiftProduct, apply_coupons
from tests.coupons.engine.builders import NOON_SATURDAY

SKUS = ["d-1", "d-2", "d-3", "d-4", "d-5", "d-6"]
CATEGORIES = ["cat-a", "cat-b", "cat-c"]
TYPES = ["CASH_VOUCHER", "PERCENTAGE_DISCOUNT", "RANDOM_CASH", "FREE_ITEM"]


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda c: Decimal(c).scaleb(-2))


@st.composite
def carts(draw: st.DrawFn, max_lines: int = 5) -> Cart:
    skus = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=max_lines, unique=True))
    lines = [
        CartLine(
            sku,
            draw(st.sampled_from(CATEGORIES)),
            draw(st.one_of(cents(0, 300), cents(300, 20000))),
            draw(st.integers(1, 3)),
        )
        for sku in skus
    ]
    return Cart(tuple(lines))


@st.composite
def selections(draw: st.DrawFn) -> dict[str, list[str]]:
    items = draw(st.lists(st.sampled_from(SKUS), max_size=2, unique=True))
    categories = draw(st.lists(st.sampled_from(CATEGORIES), min_size=0 if items else 1, max_size=2, unique=True))
    return {"item_ids": items, "category_ids": categories}


@st.composite
def coupons(draw: st.DrawFn, coupon_id: int) -> Coupon:
    coupon_type = draw(st.sampled_from(TYPES))
    rules: list[dict[str, Any]] = []
    amount = None
    gift = None
    if coupon_type == "CASH_VOUCHER":
        # Tiny amounts and rates too: a cent's rounding is where a bound is most easily wrong.
        value: dict[str, Any] = {"amount": str(draw(st.one_of(cents(1, 3), cents(1, 6000))))}
    elif coupon_type == "PERCENTAGE_DISCOUNT":
        value = {"percentage": str(draw(st.one_of(cents(1, 5), cents(1, 10000))))}
        if draw(st.booleans()):
            value["max_off"] = str(draw(cents(1, 3000)))
    elif coupon_type == "RANDOM_CASH":
        value = {"min_amount": "1.00", "max_amount": "8.88"}
        amount = draw(cents(100, 888))
    else:
        value = {"gift_item_id": "d-9", "quantity": draw(st.integers(1, 2))}
        if draw(st.integers(0, 5)):
            gift = GiftProduct("d-9", "gift", draw(cents(0, 2000)))
    if draw(st.integers(0, 3)) == 0:
        rules.append({"rule_type": "MINIMUM_SPEND", "params": {"amount": str(draw(cents(1, 30000)))}})
    if coupon_type != "FREE_ITEM" and draw(st.booleans()):
        rules.append({"rule_type": "ITEM_DISCOUNT_SCOPE", "params": draw(selections())})
    if draw(st.integers(0, 3)) == 0:
        rules.append({"rule_type": "EXCLUDE_ITEMS", "params": draw(selections())})
    stacking = draw(st.integers(0, 5))
    if stacking == 1:
        rules.append({"rule_type": "STACKABILITY", "params": {"allow_stacking": False}})
    elif stacking >= 2:
        excluded = draw(st.lists(st.sampled_from(TYPES), max_size=2, unique=True)) if stacking == 5 else []
        rules.append(
            {"rule_type": "STACKABILITY", "params": {"allow_stacking": True, "exclude_coupon_types": excluded}}
        )
    rules = draw(st.permutations(rules))
    expires_at = NOON_SATURDAY - timedelta(hours=1) if draw(st.integers(0, 19)) == 0 else None
    return Coupon(coupon_id, coupon_type, value, rules, amount=amount, gift=gift, expires_at=expires_at)


@st.composite
def wallets(draw: st.DrawFn, min_size: int = 0, max_size: int = 10) -> list[Coupon]:
    size = draw(st.integers(min_size, max_size))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=size, max_size=size, unique=True))
    return [draw(coupons(coupon_id)) for coupon_id in ids]


def stacking_key(coupon: Coupon) -> tuple[int, int, int]:
    """The documented tie-break order, written independently of the engine."""
    scoped = any(r["rule_type"] == "ITEM_DISCOUNT_SCOPE" for r in coupon.usage_rules)
    rank = {"CASH_VOUCHER": 0, "RANDOM_CASH": 0, "PERCENTAGE_DISCOUNT": 1, "FREE_ITEM": 2}[coupon.type]
    return (0 if scoped else 1, rank, coupon.id)


def brute_force(cart: Cart, wallet: list[Coupon], ctx: Context) -> Application:
    """Apply every subset and keep the best: largest benefit, then fewer coupons, then the smaller
    sorted list of stacking keys."""
    best: tuple[Any, Application] | None = None
    for size in range(len(wallet) + 1):
        for subset in combinations(wallet, size):
            application = apply_coupons(cart, list(subset), ctx)
            if not application.ok:
                continue
            rank = (-application.benefit, size, sorted(stacking_key(c) for c in subset))
            if best is None or rank < best[0]:
                best = (rank, application)
    assert best is not None
    return best[1]
