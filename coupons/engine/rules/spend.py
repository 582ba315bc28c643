"""Spend thresholds, measured on the coupon's base at menu prices before any coupon."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Self

from coupons.engine.messages import gettext_noop
from coupons.engine.money import from_cents, to_cents
from coupons.engine.params import Params
from coupons.engine.rules.base import Rule, Situation
from coupons.engine.types import FREE_ITEM, Reason


@dataclass(frozen=True)
class _Threshold(Rule):
    keys: ClassVar[tuple[str, ...]] = ("amount",)
    amount: Decimal

    @classmethod
    def _read(cls, params: Params) -> Self | None:
        amount = params.money("amount")
        return None if amount is None else cls(amount)

    def to_params(self) -> dict[str, Any]:
        return {"amount": str(self.amount)}

    def check(self, situation: Situation) -> Reason | None:
        needed = to_cents(self.amount)
        if situation.base_subtotal >= needed:
            return None
        return Reason(
            self.rule_type,
            {
                "amount": str(self.amount),
                "subtotal": str(from_cents(situation.base_subtotal)),
                "shortfall": str(from_cents(needed - situation.base_subtotal)),
            },
        )


@dataclass(frozen=True)
class MinimumSpend(_Threshold):
    """满减: the base subtotal is at least ``amount``."""

    rule_type: ClassVar[str] = "MINIMUM_SPEND"
    message: ClassVar[str] = gettext_noop("Spend %(shortfall)s more to use this coupon")


@dataclass(frozen=True)
class SpendForGift(_Threshold):
    """满赠: FREE_ITEM only; the base subtotal is at least ``amount``."""

    rule_type: ClassVar[str] = "SPEND_FOR_GIFT"
    coupon_types: ClassVar[frozenset[str]] = frozenset({FREE_ITEM})
    message: ClassVar[str] = gettext_noop("Spend %(shortfall)s more to get this gift")
