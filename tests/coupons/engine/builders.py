"""Small builders for engine tests: carts, coupons and rules in a line each."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from coupons.engine import Cart, CartLine, Context, Coupon, GiftProduct

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Saturday lunchtime in the business time zone.
NOON_SATURDAY = datetime(2024, 5, 4, 12, 0, tzinfo=SHANGHAI)


def D(value: str | int) -> Decimal:
    return Decimal(value)


def line(sku: str, category: str, price: str, quantity: int = 1, key: str = "") -> CartLine:
    return CartLine(sku, category, Decimal(price), quantity, key)


def cart(*lines: CartLine) -> Cart:
    return Cart(tuple(lines))


def ctx(now: datetime = NOON_SATURDAY, channel: str = "APP") -> Context:
    return Context(now, SHANGHAI, channel)


def rule(rule_type: str, **params: Any) -> dict[str, Any]:
    return {"rule_type": rule_type, "params": params}


def stacks(*excluded: str) -> dict[str, Any]:
    return rule("STACKABILITY", allow_stacking=True, exclude_coupon_types=list(excluded))


def alone() -> dict[str, Any]:
    return rule("STACKABILITY", allow_stacking=False)


def cash(coupon_id: int, amount: str | int, *rules: dict[str, Any], **fields: Any) -> Coupon:
    return Coupon(coupon_id, "CASH_VOUCHER", {"amount": amount}, list(rules), **fields)


def percent(
    coupon_id: int, percentage: str | int, *rules: dict[str, Any], max_off: str | int | None = None, **fields: Any
) -> Coupon:
    value: dict[str, Any] = {"percentage": percentage}
    if max_off is not None:
        value["max_off"] = max_off
    return Coupon(coupon_id, "PERCENTAGE_DISCOUNT", value, list(rules), **fields)


def red_packet(coupon_id: int, amount: str, *rules: dict[str, Any], **fields: Any) -> Coupon:
    value = {"min_amount": "1.00", "max_amount": "8.88"}
    return Coupon(coupon_id, "RANDOM_CASH", value, list(rules), amount=Decimal(amount), **fields)


def gift(
    coupon_id: int,
    *rules: dict[str, Any],
    sku: str = "d-901",
    price: str | None = "6.00",
    quantity: int = 1,
    **fields: Any,
) -> Coupon:
    product = None if price is None else GiftProduct(sku, "酸梅汤", Decimal(price))
    value = {"gift_item_id": sku, "quantity": quantity}
    return Coupon(coupon_id, "FREE_ITEM", value, list(rules), gift=product, **fields)


def valid_for(days: int) -> dict[str, datetime]:
    return {"valid_from": NOON_SATURDAY - timedelta(days=1), "expires_at": NOON_SATURDAY + timedelta(days=days)}
