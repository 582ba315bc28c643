"""When a coupon may be used, in the business time zone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from coupons.engine.codes import ProblemCode
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
    keys: ClassVar[tuple[str, ...]] = ("slots",)
    message: ClassVar[str] = gettext_noop("Usable only during %(slots)s")
    slots: tuple[Slot, ...]

    @classmethod
    def _read(cls, params: Params) -> Self | None:
        slots = []
        for index, raw in enumerate(params.array("slots", required=True, non_empty=True)):
            slot = params.nested(raw, ("start", "end"), f"slots[{index}].")
            if not isinstance(raw, Mapping):
                continue
            times = {}
            for key in ("start", "end"):
                if not slot.present(key, required=True):
                    continue
                if time_of_day(slot.data[key]) is None:
                    slot.add(ProblemCode.INVALID_TIME, {"key": slot.key(key), "value": slot.data[key]})
                else:
                    times[key] = slot.data[key]
            if len(times) == 2:
                if times["start"] == times["end"]:
                    slot.add(ProblemCode.EMPTY_SLOT, {"key": f"slots[{index}]"})
                else:
                    slots.append(Slot(times["start"], times["end"]))
        return cls(tuple(slots))

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
    keys: ClassVar[tuple[str, ...]] = ("days",)
    message: ClassVar[str] = gettext_noop("Usable only on %(days)s")
    days: tuple[int, ...]

    @classmethod
    def _read(cls, params: Params) -> Self | None:
        return cls(params.integers("days", low=1, high=7))

    def to_params(self) -> dict[str, Any]:
        return {"days": list(self.days)}

    def check(self, situation: Situation) -> Reason | None:
        weekday = situation.local_now.isoweekday()
        if weekday in self.days:
            return None
        return Reason(self.rule_type, {"days": sorted(self.days), "weekday": weekday})
