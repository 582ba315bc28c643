"""The engine's inputs and outputs: plain frozen dataclasses, money as ``Decimal``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from coupons.engine.money import ZERO, to_money

CASH_VOUCHER = "CASH_VOUCHER"
PERCENTAGE_DISCOUNT = "PERCENTAGE_DISCOUNT"
RANDOM_CASH = "RANDOM_CASH"
FREE_ITEM = "FREE_ITEM"
COUPON_TYPES = (CASH_VOUCHER, PERCENTAGE_DISCOUNT, RANDOM_CASH, FREE_ITEM)
CHANNELS = ("APP", "MINI_PROGRAM", "WEB", "POS")


def _require_money(name: str, value: object, *, allow_zero: bool = True) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value != to_money(value):
        raise ValueError(f"{name} must be a Decimal with at most 2 places, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>=' if allow_zero else '>'} 0, got {value}")


@dataclass(frozen=True)
class CartLine:
    """One line of the cart at menu prices. ``key`` names the line in allocations (default: the sku)."""

    sku: str
    category: str
    unit_price: Decimal
    quantity: int
    key: str = ""

    def __post_init__(self) -> None:
        _require_money("unit_price", self.unit_price)
        if not isinstance(self.quantity, int) or isinstance(self.quantity, bool) or self.quantity < 1:
            raise ValueError(f"quantity must be a positive int, got {self.quantity!r}")

    @property
    def ref(self) -> str:
        return self.key or self.sku

    @property
    def amount(self) -> Decimal:
        return to_money(self.unit_price * self.quantity)


@dataclass(frozen=True)
class Cart:
    lines: tuple[CartLine, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        refs = [line.ref for line in self.lines]
        if len(set(refs)) != len(refs):
            raise ValueError("cart lines must have distinct keys (give repeated skus a key)")

    @property
    def subtotal(self) -> Decimal:
        return to_money(sum((line.amount for line in self.lines), ZERO))


@dataclass(frozen=True)
class GiftProduct:
    """The menu dish a FREE_ITEM coupon gives, resolved by the caller from ``gift_item_id``."""

    sku: str
    name: str
    unit_price: Decimal

    def __post_init__(self) -> None:
        _require_money("unit_price", self.unit_price)


@dataclass(frozen=True)
class Coupon:
    """A coupon the customer holds: its template's definition plus what the instance stores.

    ``value`` and ``usage_rules`` are the template's JSON as saved; ``amount`` is the issued amount of a
    RANDOM_CASH coupon; ``gift`` is the FREE_ITEM dish, or None when it is not available.
    """

    id: int
    type: str
    value: Mapping[str, Any]
    usage_rules: Sequence[Mapping[str, Any]] = ()
    amount: Decimal | None = None
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    gift: GiftProduct | None = None

    def __post_init__(self) -> None:
        for name in ("valid_from", "expires_at"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime")


@dataclass(frozen=True)
class Context:
    """When and where the cart is priced. ``tz`` is the business time zone (days, weekdays, time slots)."""

    now: datetime
    tz: tzinfo
    channel: str

    def __post_init__(self) -> None:
        if self.now.utcoffset() is None:
            raise ValueError("now must be an aware datetime")

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.tz)


@dataclass(frozen=True)
class Reason:
    """Why a coupon cannot be used: a rule type or status code, and JSON-friendly parameters."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Gift:
    """A gift line added at price 0; ``unit_worth`` is its menu price."""

    sku: str
    name: str
    quantity: int
    unit_worth: Decimal

    @property
    def worth(self) -> Decimal:
        return to_money(self.unit_worth * self.quantity)


def _gift_worth(gifts: Sequence[Gift]) -> Decimal:
    return to_money(sum((gift.worth for gift in gifts), ZERO))


@dataclass(frozen=True)
class CouponEvaluation:
    """One coupon on its own: usable or not, why not, and what it gives alone (the checkout preview)."""

    coupon_id: int
    usable: bool
    reasons: tuple[Reason, ...]
    discount: Decimal
    allocation: Mapping[str, Decimal]
    gifts: tuple[Gift, ...]

    @property
    def benefit(self) -> Decimal:
        return to_money(self.discount + _gift_worth(self.gifts))


@dataclass(frozen=True)
class CouponResult:
    """What one coupon of an applied combination took, and from which lines (line key -> amount)."""

    coupon_id: int
    coupon_type: str
    discount: Decimal
    allocation: Mapping[str, Decimal]
    gifts: tuple[Gift, ...]

    @property
    def benefit(self) -> Decimal:
        return to_money(self.discount + _gift_worth(self.gifts))


@dataclass(frozen=True)
class Application:
    """A combination applied to the cart.

    ``coupons`` are in the order they were applied. ``line_discounts`` has every cart line (0.00 where
    nothing was taken). When ``ok`` is false nothing is applied and ``refused`` says, per offending
    coupon, why.
    """

    ok: bool
    coupons: tuple[CouponResult, ...]
    subtotal: Decimal
    discount_total: Decimal
    total: Decimal
    gifts: tuple[Gift, ...]
    line_discounts: Mapping[str, Decimal]
    refused: Mapping[int, tuple[Reason, ...]]

    @property
    def coupon_ids(self) -> tuple[int, ...]:
        return tuple(result.coupon_id for result in self.coupons)

    @property
    def gift_worth(self) -> Decimal:
        return _gift_worth(self.gifts)

    @property
    def benefit(self) -> Decimal:
        return to_money(self.discount_total + self.gift_worth)


@dataclass(frozen=True)
class Preview:
    """Every coupon on its own (input order) and the best combination."""

    evaluations: tuple[CouponEvaluation, ...]
    best: Application
