"""Whether a coupon combines with others. Without this rule a coupon stands alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from coupons.engine.declarations import Param, ParamKind
from coupons.engine.messages import gettext_noop
from coupons.engine.rules.base import Rule, StackPolicy
from coupons.engine.types import COUPON_TYPES


@dataclass(frozen=True)
class Stackability(Rule):
    """``allow_stacking`` false: stands alone. ``exclude_coupon_types``: never in one order with a coupon
    of those types, whichever side names the other."""

    rule_type: ClassVar[str] = "STACKABILITY"
    label: ClassVar[str] = gettext_noop("Combining with other coupons")
    params: ClassVar[tuple[Param, ...]] = (
        Param("allow_stacking", ParamKind.BOOL, gettext_noop("May be combined with other coupons")),
        Param(
            "exclude_coupon_types",
            ParamKind.COUPON_TYPES,
            gettext_noop("Never together with these coupon types"),
            required=False,
            choices=COUPON_TYPES,
        ),
    )
    allow_stacking: bool
    exclude_coupon_types: tuple[str, ...]

    @classmethod
    def summary_for(cls, params: Mapping[str, Any]) -> str:
        if not params.get("allow_stacking"):
            return gettext_noop("cannot be combined with other coupons")
        if params.get("exclude_coupon_types"):
            return gettext_noop("can be combined, except with %(exclude_coupon_types)s")
        return gettext_noop("can be combined with other coupons")

    def to_params(self) -> dict[str, Any]:
        return {"allow_stacking": self.allow_stacking, "exclude_coupon_types": list(self.exclude_coupon_types)}

    def stack_policy(self) -> StackPolicy:
        return StackPolicy(self.allow_stacking, frozenset(self.exclude_coupon_types))
