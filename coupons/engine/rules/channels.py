"""Where a coupon may be used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from coupons.engine.declarations import Param, ParamKind
from coupons.engine.messages import gettext_noop
from coupons.engine.rules.base import Rule, Situation
from coupons.engine.types import CHANNELS, Reason


@dataclass(frozen=True)
class Channels(Rule):
    rule_type: ClassVar[str] = "CHANNELS"
    label: ClassVar[str] = gettext_noop("Channels")
    params: ClassVar[tuple[Param, ...]] = (
        Param("channels", ParamKind.CHANNELS, gettext_noop("Usable on"), choices=CHANNELS),
    )
    message: ClassVar[str] = gettext_noop("Usable only on %(channels)s")
    summary: ClassVar[str] = gettext_noop("only on %(channels)s")
    channels: tuple[str, ...]

    def to_params(self) -> dict[str, Any]:
        return {"channels": list(self.channels)}

    def check(self, situation: Situation) -> Reason | None:
        if situation.channel in self.channels:
            return None
        return Reason(self.rule_type, {"channel": situation.channel, "channels": list(self.channels)})
