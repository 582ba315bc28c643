"""When a coupon may be used, in the business time zone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from coupons.engine.declarations import Param, ParamKind
from coupons.engine.messages import gettext_noop
from coupons.engine.params import Params, time_of_day
from coupons.engine.rules.base import Rule, Situation
from coupons.engine.types import Reason


@dataclass(frozen=True)
class Slot:
    start: str
    end: str

    def contains(self, minute: int) -> bool:
        """Start included, end excluded; a slot that ends before it starts wraps midnight."""
        start, end = time_of_day(self.start), time_of_day(self.end)
        assert start is not None and end is not None
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end

    @property
    def label(self) -> str:
        return f"{self.start}-{self.end}"


@dataclass(frozen=True)
class ValidTimeSlots(Rule):
    rule_type: ClassVar[str] = "VALID_TIME_SLOTS"
    label: ClassVar[str] = gettext_noop("Time of day")
    params: ClassVar[tuple[Param, ...]] = (Param("slots", ParamKind.TIME_SLOTS, gettext_noop("Time slots")),)
    message: ClassVar[str] = gettext_noop("Usable only during %(slots)s")
    summary: ClassVar[str] = "%(slots)s"
    summary_group: ClassVar[str] = "when"
    slots: tuple[Slot, ...]

    @classmethod
    def _read(cls, params: Params) -> Self | None:
        return cls(tuple(Slot(start, end) for start, end in params.slots("slots")))

    def to_params(self) -> dict[str, Any]:
        return {"slots": [{"start": slot.start, "end": slot.end} for slot in self.slots]}

    def check(self, situation: Situation) -> Reason | None:
        now = situation.local_now
        if any(slot.contains(now.hour * 60 + now.minute) for slot in self.slots):
            return None
        return Reason(self.rule_type, {"slots": [slot.label for slot in self.slots], "time": now.strftime("%H:%M")})


@dataclass(frozen=True)
class ValidDaysOfWeek(Rule):
    """ISO weekdays, 1 = Monday."""

    rule_type: ClassVar[str] = "VALID_DAYS_OF_WEEK"
    label: ClassVar[str] = gettext_noop("Days of the week")
    params: ClassVar[tuple[Param, ...]] = (Param("days", ParamKind.WEEKDAYS, gettext_noop("Days")),)
    message: ClassVar[str] = gettext_noop("Usable only on %(days)s")
    summary: ClassVar[str] = "%(days)s"
    summary_group: ClassVar[str] = "when"
    days: tuple[int, ...]

    def to_params(self) -> dict[str, Any]:
        return {"days": list(self.days)}

    def check(self, situation: Situation) -> Reason | None:
        weekday = situation.local_now.isoweekday()
        if weekday in self.days:
            return None
        return Reason(self.rule_type, {"days": sorted(self.days), "weekday": weekday})
