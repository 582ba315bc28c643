"""The bridge between Django rows and the pricing engine: menu products become an engine ``Cart``, the
coupons a customer holds (``UserCoupon`` joined to its template) become engine ``Coupon`` values, and
the business time zone and the clock become a ``Context``. Checkout preview and order placement both
price through here, so what a customer is shown is what the order charges.

Coupons are read as ``HeldCoupon`` rows (``values_list`` over one join) rather than model instances: a
wallet of 200 coupons then costs a few milliseconds instead of tens (building two model instances of
~50 fields per coupon was most of the preview's time outside the engine).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from core.clock import business_tz
from coupons.engine import FREE_ITEM, Cart, CartLine, Context, Coupon, GiftProduct, Reason, ReasonCode
from coupons.models import CouponStatus, UserCoupon
from coupons.reasons import reason_dict
from orders.models import Product


def pricing_context(*, channel: str, now: datetime | None = None) -> Context:
    return Context(now=now or timezone.now(), tz=business_tz(), channel=channel)


def engine_cart(*, lines: Sequence[tuple[Product, int]]) -> Cart:
    """One cart line per product (skus must be distinct; the caller merges repeats). The product's
    ``category`` must be loaded (select_related) or this costs a query per line."""
    return Cart(
        tuple(
            CartLine(sku=product.sku, category=product.category.code, unit_price=product.price, quantity=quantity)
            for product, quantity in lines
        )
    )


# Coupons ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldCoupon:
    """A customer's coupon as checkout reads it: the instance's fields and its template's definition."""

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
    return_on_cancel: bool

    @property
    def pk(self) -> int:
        return self.id


# In HeldCoupon's order; the template's value and usage rules are 11 and 12.
HELD_COUPON_FIELDS = (
    "id",
    "code",
    "user_id",
    "status",
    "amount",
    "valid_from",
    "expires_at",
    "template_id",
    "template__name",
    "template__short_name",
    "template__type",
    "template__value",
    "template__usage_rules",
    "template__return_on_cancel",
)


@lru_cache(maxsize=4096)
def _definition_json(text: str | None) -> Any:
    # Templates repeat across coupons and requests, and an approved one never changes: parse each
    # distinct text once. The parsed value is shared, so nothing may mutate it (the engine only reads).
    return None if text is None else json.loads(text)


def held_coupons(queryset: QuerySet[UserCoupon]) -> list[HeldCoupon]:
    """The coupons of ``queryset`` with their templates, in one query. The template's JSON is read as
    text and parsed through a cache (most of the cost of reading a wallet was parsing it again)."""
    rows = queryset.annotate(
        _value=Cast("template__value", TextField()), _rules=Cast("template__usage_rules", TextField())
    ).values_list(*HELD_COUPON_FIELDS[:11], "_value", "_rules", *HELD_COUPON_FIELDS[13:])
    return [
        HeldCoupon(
            id=row[0],
            code=row[1],
            user_id=row[2],
            status=row[3],
            amount=row[4],
            valid_from=row[5],
            expires_at=row[6],
            template_id=row[7],
            name=row[8],
            short_name=row[9],
            type=row[10],
            value=_definition_json(row[11]),
            usage_rules=_definition_json(row[12]),
            return_on_cancel=row[13],
        )  # fmt: skip
        for row in rows
    ]


def gift_sku_of(coupon: HeldCoupon) -> str | None:
    """The sku a FREE_ITEM coupon gives, read from its template's value; None for other types or a
    malformed value (the engine then reports the definition as invalid)."""
    if coupon.type != FREE_ITEM or not isinstance(coupon.value, Mapping):
        return None
    sku = coupon.value.get("gift_item_id")
    return sku if isinstance(sku, str) and sku else None


def gift_skus(coupons: Iterable[HeldCoupon]) -> set[str]:
    return {sku for sku in (gift_sku_of(coupon) for coupon in coupons) if sku}


def engine_coupon(coupon: HeldCoupon, *, products: Mapping[str, Product]) -> Coupon:
    """The engine's view of one coupon. ``products`` are the orderable menu products by sku: a gift
    dish missing from it (unknown or inactive) leaves ``gift`` None, which the engine reports as
    GIFT_UNAVAILABLE."""
    gift = None
    sku = gift_sku_of(coupon)
    if sku is not None and sku in products:
        product = products[sku]
        gift = GiftProduct(sku=product.sku, name=product.name, unit_price=product.price)
    return Coupon(
        id=coupon.id,
        type=coupon.type,
        # Passed as stored, even when malformed: the engine then refuses the coupon as
        # INVALID_DEFINITION instead of pricing it without its rules.
        value=coupon.value,
        usage_rules=coupon.usage_rules,
        amount=coupon.amount,
        valid_from=coupon.valid_from,
        expires_at=coupon.expires_at,
        gift=gift,
    )


def engine_coupons(coupons: Iterable[HeldCoupon], *, products: Mapping[str, Product]) -> list[Coupon]:
    return [engine_coupon(coupon, products=products) for coupon in coupons]


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
