"""Coupon types: each class reads and checks its ``value`` and says what the coupon gives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Any, ClassVar, Self

from coupons.engine.codes import ProblemCode
from coupons.engine.declarations import Param, ParamKind, names
from coupons.engine.messages import gettext_noop
from coupons.engine.money import Cents, percentage_of, to_cents, to_money
from coupons.engine.params import Issue, ParamError, Params
from coupons.engine.types import (
    CASH_VOUCHER,
    FREE_ITEM,
    PERCENTAGE_DISCOUNT,
    RANDOM_CASH,
    Coupon,
)

# Stacking order within a scope: cash before percentage; gifts take no money, so they go last.
CASH_RANK = 0
PERCENT_RANK = 1
GIFT_RANK = 2


class Benefit(ABC):
    """What one coupon gives, resolved for the instance (a RANDOM_CASH coupon's issued amount)."""

    rank: ClassVar[int]

    @abstractmethod
    def take(self, base_left: Cents) -> Cents:
        """The money taken from a base of which ``base_left`` is left; never more than that."""


@dataclass(frozen=True)
class CashOff(Benefit):
    rank: ClassVar[int] = CASH_RANK
    amount: Cents

    def take(self, base_left: Cents) -> Cents:
        return min(self.amount, base_left)


@dataclass(frozen=True)
class PercentOff(Benefit):
    rank: ClassVar[int] = PERCENT_RANK
    basis_points: int  # percentage x 100: 12 % is 1200, so 8.8折 is 1200
    cap: Cents | None

    def take(self, base_left: Cents) -> Cents:
        taken = percentage_of(base_left, self.basis_points)
        return taken if self.cap is None else min(taken, self.cap)


@dataclass(frozen=True)
class GiftItem(Benefit):
    rank: ClassVar[int] = GIFT_RANK
    sku: str
    quantity: int

    def take(self, base_left: Cents) -> Cents:
        return 0


class CouponKind(ABC):
    """One coupon type. ``params`` declares its ``value`` (validation, admin widgets, API schema and
    summary come from it); ``label`` names the type. ``summary`` / ``summary_for`` give the msgid of the
    value's phrase in a template's summary; ``threshold_summary``, when set, is used instead when the
    template has a spend threshold rule, with that amount as ``%(threshold)s`` ("满100元减10元")."""

    coupon_type: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    label: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    threshold_summary: ClassVar[str] = ""

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return names(cls.params)

    @classmethod
    def summary_for(cls, value: Mapping[str, Any], *, threshold: bool) -> str:
        return cls.threshold_summary if threshold and cls.threshold_summary else cls.summary

    @classmethod
    def parse(cls, raw: object) -> Self:
        """Read ``value``; raise ``ParamError`` with every problem found."""
        params = Params(raw, cls.keys())
        kind = cls._read(params)
        params.done()
        assert kind is not None
        return kind

    @classmethod
    @abstractmethod
    def _read(cls, params: Params) -> Self | None: ...

    @abstractmethod
    def to_value(self) -> dict[str, Any]:
        """The normalised JSON value (money as "10.00")."""

    @abstractmethod
    def benefit(self, coupon: Coupon) -> Benefit: ...

    def largest_cash(self) -> Decimal | None:
        """The most money one coupon can take off, when the value alone bounds it (None: it does not,
        as a percentage without a cap or a gift whose worth is the dish's price)."""
        return None


@dataclass(frozen=True)
class CashVoucher(CouponKind):
    coupon_type: ClassVar[str] = CASH_VOUCHER
    label: ClassVar[str] = gettext_noop("Cash voucher")
    params: ClassVar[tuple[Param, ...]] = (Param("amount", ParamKind.MONEY, gettext_noop("Amount off (¥)")),)
    summary: ClassVar[str] = gettext_noop("¥%(amount)s off, no minimum spend")
    threshold_summary: ClassVar[str] = gettext_noop("¥%(amount)s off orders of ¥%(threshold)s or more")
    amount: Decimal

    @classmethod
    def _read(cls, params: Params) -> Self | None:
        amount = params.read(cls.params[0])
        return None if amount is None else cls(amount)

    def to_value(self) -> dict[str, Any]:
        return {"amount": str(self.amount)}

    @cached_property
    def _benefit(self) -> CashOff:
        # A kind is read once per definition and kept (``read_stored_definition``): work this out once.
        return CashOff(to_cents(self.amount))

    def benefit(self, coupon: Coupon) -> Benefit:
        return self._benefit

    def largest_cash(self) -> Decimal | None:
        return self.amount


@dataclass(frozen=True)
class PercentageDiscount(CouponKind):
    coupon_type: ClassVar[str] = PERCENTAGE_DISCOUNT
    label: ClassVar[str] = gettext_noop("Percentage discount")
    params: ClassVar[tuple[Param, ...]] = (
        Param(
            "percentage",
            ParamKind.PERCENT_OFF,
            gettext_noop("Discount (折)"),
            maximum=Decimal(100),
            # xgettext:no-python-format
            help_text=gettext_noop("Enter 8.8 for 8.8折, which is 12 % off."),
        ),
        Param("max_off", ParamKind.MONEY, gettext_noop("At most (¥)"), required=False),
    )
    percentage: Decimal
    max_off: Decimal | None

    @classmethod
    def summary_for(cls, value: Mapping[str, Any], *, threshold: bool) -> str:
        if value.get("max_off") is not None:
            return gettext_noop("%(percentage)s, at most ¥%(max_off)s")
        return "%(percentage)s"

    @classmethod
    def _read(cls, params: Params) -> Self | None:
        read = params.read_all(cls.params)
        return None if read["percentage"] is None else cls(read["percentage"], read["max_off"])

    def to_value(self) -> dict[str, Any]:
        # A whole percentage stays a JSON number as in the spec ({"percentage": 12}); 12.5 is "12.5".
        percentage: int | str = (
            int(self.percentage)
            if self.percentage == self.percentage.to_integral_value()
            else format(self.percentage.normalize(), "f")  # "12.50" is stored as "12.5", as the editor writes it
        )
        value: dict[str, Any] = {"percentage": percentage}
        if self.max_off is not None:
            value["max_off"] = str(self.max_off)
        return value

    def largest_cash(self) -> Decimal | None:
        return self.max_off

    @cached_property
    def _benefit(self) -> PercentOff:
        basis_points = int(self.percentage.scaleb(2))
        return PercentOff(basis_points, None if self.max_off is None else to_cents(self.max_off))

    def benefit(self, coupon: Coupon) -> Benefit:
        return self._benefit


@dataclass(frozen=True)
class RandomCash(CouponKind):
    coupon_type: ClassVar[str] = RANDOM_CASH
    label: ClassVar[str] = gettext_noop("Random red packet")
    params: ClassVar[tuple[Param, ...]] = (
        Param("min_amount", ParamKind.MONEY, gettext_noop("At least (¥)")),
        Param("max_amount", ParamKind.MONEY, gettext_noop("At most (¥)")),
    )
    summary: ClassVar[str] = gettext_noop("a random ¥%(min_amount)s-%(max_amount)s off")
    threshold_summary: ClassVar[str] = gettext_noop(
        "a random ¥%(min_amount)s-%(max_amount)s off orders of ¥%(threshold)s or more"
    )
    min_amount: Decimal
    max_amount: Decimal

    @classmethod
    def _read(cls, params: Params) -> Self | None:
        read = params.read_all(cls.params)
        low, high = read["min_amount"], read["max_amount"]
        if low is None or high is None:
            return None
        if low > high:
            params.add(ProblemCode.MIN_ABOVE_MAX, {"min_key": "min_amount", "max_key": "max_amount"})
            return None
        return cls(low, high)

    def to_value(self) -> dict[str, Any]:
        return {"min_amount": str(self.min_amount), "max_amount": str(self.max_amount)}

    def largest_cash(self) -> Decimal | None:
        return self.max_amount

    def benefit(self, coupon: Coupon) -> Benefit:
        # The amount was drawn when the coupon was issued; it is the instance's, not the template's.
        amount = coupon.amount
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0 or amount != to_money(amount):
            raise ParamError([Issue(ProblemCode.REQUIRED, {"key": "amount"})])
        return CashOff(to_cents(amount))


@dataclass(frozen=True)
class FreeItem(CouponKind):
    coupon_type: ClassVar[str] = FREE_ITEM
    label: ClassVar[str] = gettext_noop("Free item")
    params: ClassVar[tuple[Param, ...]] = (
        Param("gift_item_id", ParamKind.DISH, gettext_noop("Gift dish")),
        Param(
            "quantity", ParamKind.INTEGER, gettext_noop("Quantity"), required=False, minimum=1, maximum=99, default=1
        ),
    )
    summary: ClassVar[str] = gettext_noop("a free %(gift_item_id)s × %(quantity)s")
    gift_item_id: str
    quantity: int

    @classmethod
    def _read(cls, params: Params) -> Self | None:
        read = params.read_all(cls.params)
        sku, quantity = read["gift_item_id"], read["quantity"]
        return None if sku is None or quantity is None else cls(sku, quantity)

    def to_value(self) -> dict[str, Any]:
        return {"gift_item_id": self.gift_item_id, "quantity": self.quantity}

    @cached_property
    def _benefit(self) -> GiftItem:
        return GiftItem(self.gift_item_id, self.quantity)

    def benefit(self, coupon: Coupon) -> Benefit:
        return self._benefit


KINDS: Mapping[str, type[CouponKind]] = MappingProxyType(
    {kind.coupon_type: kind for kind in (CashVoucher, PercentageDiscount, RandomCash, FreeItem)}
)
