"""Where a coupon may be used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from coupons.engine.messages import gettext_noop
from coupons.engine.params import Params
from coupons.engine.rules.base import Rule, Situation
from coupons.engine.types import CHANNELS, Reason


@dataclass(frozen=True)
class Channels(Rule):
    rule_type: ClassVar[str] = "CHANNELS"
    keys: ClassVar[tuple[str, ...]] = ("channels",)
    message: ClassVar[str] = gettext_noop("Usable only on %(channels)s")
    channels: tuple[str, ...]

    @classmethod
    def _read(cls, params: Params) -> Self | None:
        return cls(params.choices("channels", CHANNELS, non_empty=True))

    def to_params(self) -> dict[str, Any]:
        return {"channels": list(self.channels)}

    def check(self, situation: Situation) -> Reason | None:
        if situation.channel in self.channels:
            return None
        return Reason(self.rule_type, {"channel": situation.channel, "channels": list(self.channels)})
