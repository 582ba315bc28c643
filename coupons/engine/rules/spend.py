"""Spend thresholds, measured on the coupon's base at menu prices before any coupon."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar

from coupons.engine.declarations import Param, ParamKind
from coupons.engine.messages import gettext_noop
from coupons.engine.money import from_cents, to_cents
from coupons.engine.rules.base import Rule, Situation
from coupons.engine.types import FREE_ITEM, Reason


@dataclass(frozen=True)
class _Threshold(Rule):
    params: ClassVar[tuple[Param, ...]] = (Param("amount", ParamKind.MONEY, gettext_noop("Spend at least (¥)")),)
    threshold: ClassVar[bool] = True
    amount: Decimal

    def to_params(self) -> dict[str, Any]:
        return {"amount": str(self.amount)}

    def threshold_amount(self) -> Decimal | None:
        return self.amount

    @cached_property
    def _needed(self) -> int:
        return to_cents(self.amount)

    def check(self, situation: Situation) -> Reason | None:
        needed = self._needed
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
    label: ClassVar[str] = gettext_noop("Minimum spend")
    summary: ClassVar[str] = gettext_noop("on orders of ¥%(amount)s or more")
    message: ClassVar[str] = gettext_noop("Spend %(shortfall)s more to use this coupon")


@dataclass(frozen=True)
class SpendForGift(_Threshold):
    """满赠: FREE_ITEM only; the base subtotal is at least ``amount``."""

    rule_type: ClassVar[str] = "SPEND_FOR_GIFT"
    label: ClassVar[str] = gettext_noop("Spend for the gift")
    summary: ClassVar[str] = gettext_noop("with an order of ¥%(amount)s or more")
    coupon_types: ClassVar[frozenset[str]] = frozenset({FREE_ITEM})
    message: ClassVar[str] = gettext_noop("Spend %(shortfall)s more to get this gift")
