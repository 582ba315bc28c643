"""Whether a coupon combines with others (SPEC 7). Without this rule a coupon stands alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from coupons.engine.params import Params
from coupons.engine.rules.base import Rule, StackPolicy
from coupons.engine.types import COUPON_TYPES


@dataclass(frozen=True)
class Stackability(Rule):
    """``allow_stacking`` false: stands alone. ``exclude_coupon_types``: never in one order with a coupon
    of those types, whichever side names the other."""

    rule_type: ClassVar[str] = "STACKABILITY"
    keys: ClassVar[tuple[str, ...]] = ("allow_stacking", "exclude_coupon_types")
    allow_stacking: bool
    exclude_coupon_types: tuple[str, ...]

    @classmethod
    def _read(cls, params: Params) -> Self | None:
        allow = params.boolean("allow_stacking")
        excluded = params.choices("exclude_coupon_types", COUPON_TYPES, non_empty=False)
        return None if allow is None else cls(allow, excluded)

    def to_params(self) -> dict[str, Any]:
        return {"allow_stacking": self.allow_stacking, "exclude_coupon_types": list(self.exclude_coupon_types)}

    def stack_policy(self) -> StackPolicy:
        return StackPolicy(self.allow_stacking, frozenset(self.exclude_coupon_types))
