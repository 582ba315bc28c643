"""The usage-rule registry (SPEC 4.2). A new rule is one class in its module, listed here."""

from collections.abc import Mapping
from types import MappingProxyType

from coupons.engine.rules.base import Rule, Situation, StackPolicy
from coupons.engine.rules.channels import Channels
from coupons.engine.rules.items import ConditionalGiftItem, ExcludeItems, ItemDiscountScope, ItemEligibility
from coupons.engine.rules.spend import MinimumSpend, SpendForGift
from coupons.engine.rules.stacking import Stackability
from coupons.engine.rules.timing import ValidDaysOfWeek, ValidTimeSlots

RULES: Mapping[str, type[Rule]] = MappingProxyType(
    {
        rule.rule_type: rule
        for rule in (
            MinimumSpend,
            ItemEligibility,
            ItemDiscountScope,
            ExcludeItems,
            ConditionalGiftItem,
            SpendForGift,
            Stackability,
            ValidTimeSlots,
            ValidDaysOfWeek,
            Channels,
        )
    }
)

__all__ = ["RULES", "Rule", "Situation", "StackPolicy"]
