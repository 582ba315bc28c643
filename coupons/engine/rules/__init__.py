"""The usage-rule registry. A new rule is one class in its module, listed here."""

from collections.abc import Mapping
from types import MappingProxyType

from coupons.engine.rules.base import Rule, Situation, StackPolicy
from coupons.engine.rules.channels import Channels
from coupons.engine.rules.items import ConditionalGiftItem, ExcludeItems, ItemDiscountScope, ItemEligibility
from coupons.engine.rules.spend import MinimumSpend, SpendForGift
from coupons.engine.rules.stacking import Stackability
from coupons.engine.rules.timing import ValidDaysOfWeek, ValidTimeSlots

_REGISTRY: dict[str, type[Rule]] = {
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
RULES: Mapping[str, type[Rule]] = MappingProxyType(_REGISTRY)


def register_rule(rule: type[Rule]) -> type[Rule]:
    """Add a rule class (usable as a class decorator); its ``rule_type`` must be new."""
    if rule.rule_type in _REGISTRY:
        raise ValueError(f"rule type {rule.rule_type} is already registered")
    _REGISTRY[rule.rule_type] = rule
    return rule


def unregister_rule(rule_type: str) -> None:
    _REGISTRY.pop(rule_type, None)


__all__ = ["RULES", "Rule", "Situation", "StackPolicy", "register_rule", "unregister_rule"]
