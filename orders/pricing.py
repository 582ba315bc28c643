"""The bridge between Django rows and the pricing engine: menu products become an engine ``Cart``, the
coupons a customer holds (``UserCoupon`` joined to its template) become engine ``Coupon`` values, and
the business time zone and the clock become a ``Context``. Checkout preview and order placement both
price through here, so what a customer is shown is what the order charges.

Checkout reads coupons and dishes as lean rows (``HeldCoupon``, ``MenuProduct``: named tuples filled by
plain SELECTs in ``orders.selectors``), never as model instances. A template's ``value`` and
``usage_rules`` are read as JSON text and parsed once per distinct text, so every coupon of a template,
in every request, shares the same parsed objects, and the engine's definition cache finds them by
identity. The selectors hand out the same ``HeldCoupon`` while a coupon's row and the stamps are
unchanged, and the engine ``Coupon`` made from it is kept beside it: a customer's next preview rebuilds
neither.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from core.clock import business_tz
from coupons.engine import FREE_ITEM, Cart, CartLine, Context, Coupon, GiftProduct, Reason, ReasonCode
from coupons.models import CouponStatus
from coupons.reasons import reason_dict


def pricing_context(*, channel: str, now: datetime | None = None) -> Context:
    return Context(now=now or timezone.now(), tz=business_tz(), channel=channel)


class MenuProduct(NamedTuple):
    """A dish as checkout reads it: the product's fields and its category's code."""

    id: int
    sku: str
    name: str
    price: Decimal
    category_code: str


# Cart lines by the dish (as read) and quantity they were made of: a customer's next preview has most of
# the same lines. The engine only reads a CartLine (frozen), so one is shared by every request.
_CART_LINES: dict[tuple[MenuProduct, int], CartLine] = {}
_CART_LINES_MAX = 8192


def engine_cart(*, lines: Sequence[tuple[MenuProduct, int]]) -> Cart:
    """One cart line per product (skus must be distinct; the caller merges repeats)."""
    made = _CART_LINES
    cart_lines = []
    for product, quantity in lines:
        line = made.get((product, quantity))
        if line is None:
            line = CartLine(product.sku, product.category_code, product.price, quantity)
            if len(made) >= _CART_LINES_MAX:
                made.clear()
            made[product, quantity] = line
        cart_lines.append(line)
    return Cart(tuple(cart_lines))


# Coupons ----------------------------------------------------------------------------------------


class HeldCoupon(NamedTuple):
    """A customer's coupon as checkout reads it: the instance's fields and its template's definition
    (``value`` and ``usage_rules`` parsed, shared with every other coupon of the same definition: read
    only)."""

    id: int
    code: str
    user_id: int
    status: str
    amount: Decimal | None
    valid_from: datetime
    expires_at: datetime
    template_id: int
    name: str
    short_name: str
    type: str
    value: Any
    usage_rules: Any

    @property
    def pk(self) -> int:
        return self.id


# UserCoupon's fields in HeldCoupon's order; the template's follow them (orders.selectors).
HELD_COUPON_FIELDS = ("id", "code", "user_id", "status", "amount", "valid_from", "expires_at", "template_id")


@lru_cache(maxsize=4096)
def _definition_json(text: str) -> Any:
    # Templates repeat across coupons and requests, and an approved one never changes: parse each
    # distinct text once. The parsed value is shared, so nothing may mutate it (the engine only reads).
    return json.loads(text)


def parsed_definition(stored: Any) -> Any:
    """A template's ``value`` or ``usage_rules`` read as JSON text, parsed (shared: read only)."""
    if isinstance(stored, str):
        return _definition_json(stored)
    if isinstance(stored, bytes | bytearray):
        return _definition_json(stored.decode())
    return stored  # NULL, or a driver that decodes JSON itself


def gift_sku_of(coupon: HeldCoupon) -> str | None:
    """The sku a FREE_ITEM coupon gives, read from its template's value; None for other types or a
    malformed value (the engine then reports the definition as invalid)."""
    if coupon.type != FREE_ITEM or not isinstance(coupon.value, Mapping):
        return None
    sku = coupon.value.get("gift_item_id")
    return sku if isinstance(sku, str) and sku else None


def gift_skus(coupons: Iterable[HeldCoupon]) -> set[str]:
    return {sku for coupon in coupons if coupon.type == FREE_ITEM and (sku := gift_sku_of(coupon))}


def engine_coupon(coupon: HeldCoupon, *, products: Mapping[str, MenuProduct]) -> Coupon:
    """The engine's view of one coupon. ``products`` are the orderable menu products by sku: a gift
    dish missing from it (unknown or inactive) leaves ``gift`` None, which the engine reports as
    GIFT_UNAVAILABLE."""
    sku = gift_sku_of(coupon)
    product = None if sku is None else products.get(sku)
    gift = None if product is None else GiftProduct(product.sku, product.name, product.price)
    # value and usage rules are passed as stored, even when malformed: the engine then refuses the
    # coupon as INVALID_DEFINITION instead of pricing it without its rules.
    return Coupon(
        coupon.id,
        coupon.type,
        coupon.value,
        coupon.usage_rules,
        coupon.amount,
        coupon.valid_from,
        coupon.expires_at,
        gift,
    )


# Engine coupons by the identity of the HeldCoupon each was made from (the selectors hand out the same
# HeldCoupon while its row is unchanged), with the menu dish a gift coupon's was made with. An entry holds
# that HeldCoupon, so no other object can take its id while it is kept; the engine only reads a Coupon
# (frozen), so one is shared by every request.
_ENGINE_COUPONS: dict[int, tuple[HeldCoupon, MenuProduct | None, Coupon]] = {}
_ENGINE_COUPONS_MAX = 8192


def engine_coupons(coupons: Iterable[HeldCoupon], *, products: Mapping[str, MenuProduct]) -> list[Coupon]:
    """``engine_coupon`` of each, made again only when the coupon or its gift dish (as the menu has it
    now) differs from what it was made with."""
    made = _ENGINE_COUPONS
    result = []
    for c in coupons:
        dish = None
        if c.type == FREE_ITEM:
            sku = gift_sku_of(c)
            dish = None if sku is None else products.get(sku)
        kept = made.get(id(c))
        if kept is not None and kept[0] is c and kept[1] == dish:
            result.append(kept[2])
            continue
        coupon = engine_coupon(c, products=products)
        if len(made) >= _ENGINE_COUPONS_MAX:
            made.clear()
        made[id(c)] = (c, dish, coupon)
        result.append(coupon)
    return result


# Reasons ----------------------------------------------------------------------------------------

# Coupons that are not UNUSED never reach the engine; their reason code is their status.
_STATUS_MESSAGES: Mapping[str, str] = {
    CouponStatus.LOCKED: gettext_noop("This coupon is held by an unpaid order"),
    CouponStatus.USED: gettext_noop("This coupon has already been used"),
    CouponStatus.REVOKED: gettext_noop("This coupon has been withdrawn"),
}


def status_reason(coupon: HeldCoupon) -> Reason | None:
    """Why a coupon cannot be used whatever the cart (LOCKED, USED, REVOKED, EXPIRED), or None for an
    UNUSED one, which the engine checks (including an expiry that passed before the sweep)."""
    if coupon.status == CouponStatus.UNUSED:
        return None
    if coupon.status == CouponStatus.EXPIRED:
        expired = coupon.expires_at.astimezone(business_tz()).strftime("%Y-%m-%d %H:%M")
        return Reason(ReasonCode.EXPIRED, {"expires_at": expired})
    return Reason(str(coupon.status))


def reason_payload(reason: Reason) -> dict[str, str]:
    """A reason as the API writes it: ``{"code", "message"}`` in the active language."""
    msgid = _STATUS_MESSAGES.get(reason.code)
    if msgid is not None:
        return {"code": str(reason.code), "message": gettext(msgid)}
    return reason_dict(reason)
