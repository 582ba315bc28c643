"""Sense checks on a definition that is valid but probably not what its author meant.

Errors refuse the template: a cash discount at or above its own spend threshold (满100减200) can never
be given as designed. Warnings need the author's explicit confirmation: 100 % off without a cap, a
percentage above 50 %, and unlimited stock without a per-user limit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from coupons.engine.definition import Definition
from coupons.engine.kinds import CashVoucher, PercentageDiscount, RandomCash

LARGE_PERCENTAGE = Decimal(50)
UNLIMITED = -1


class SenseCode(StrEnum):
    DISCOUNT_AT_THRESHOLD = "DISCOUNT_AT_THRESHOLD"  # {"amount", "threshold", "rule_type"}: error
    FULL_DISCOUNT_WITHOUT_CAP = "FULL_DISCOUNT_WITHOUT_CAP"  # {}: warning
    LARGE_PERCENTAGE = "LARGE_PERCENTAGE"  # {"percentage"}: warning
    UNLIMITED_WITHOUT_PER_USER_LIMIT = "UNLIMITED_WITHOUT_PER_USER_LIMIT"  # {}: warning


@dataclass(frozen=True)
class SenseIssue:
    """``field`` is the template field the issue belongs to; a warning can be confirmed, an error not."""

    field: str
    code: SenseCode
    warning: bool
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


def sense_check(definition: Definition, *, total_quantity: int, per_user_limit: int) -> list[SenseIssue]:
    issues: list[SenseIssue] = []
    kind = definition.kind
    if isinstance(kind, CashVoucher | RandomCash):
        amount = kind.largest_cash()
        for rule in definition.rules:
            threshold = rule.threshold_amount()
            if amount is not None and threshold is not None and amount >= threshold:
                issues.append(
                    SenseIssue(
                        "value",
                        SenseCode.DISCOUNT_AT_THRESHOLD,
                        warning=False,
                        params={"amount": str(amount), "threshold": str(threshold), "rule_type": rule.rule_type},
                    )
                )
    if isinstance(kind, PercentageDiscount):
        if kind.percentage >= 100 and kind.max_off is None:
            issues.append(SenseIssue("value", SenseCode.FULL_DISCOUNT_WITHOUT_CAP, warning=True))
        elif kind.percentage > LARGE_PERCENTAGE:
            issues.append(
                SenseIssue(
                    "value", SenseCode.LARGE_PERCENTAGE, warning=True, params={"percentage": str(kind.percentage)}
                )
            )
    if total_quantity == UNLIMITED and per_user_limit == 0:
        issues.append(SenseIssue("per_user_limit", SenseCode.UNLIMITED_WITHOUT_PER_USER_LIMIT, warning=True))
    return issues
