"""Reading JSON parameters (a coupon's ``value``, a rule's ``params``) into checked Python values.

Each reader records every problem it finds instead of stopping at the first, so the staff see all of
them at once. Numbers may arrive as JSON integers or strings ("10", "10.50"). JSON floats are read
through their shortest ``repr`` (``Decimal(repr(x))``, never ``float`` arithmetic): 10.5 means 10.5,
while a float that is not what it looks like (0.1 + 0.2) shows more than 2 places and is refused.
Booleans are refused where a number belongs, although Python counts them as ints.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from coupons.engine.codes import ProblemCode
from coupons.engine.declarations import MAX_MONEY, MAX_SLOTS, Param, ParamKind

__all__ = ["MAX_MONEY", "Issue", "ParamError", "Params", "parse_number", "time_of_day"]
_NUMBER = re.compile(r"-?\d{1,15}(\.\d{1,15})?")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


@dataclass(frozen=True)
class Issue:
    """One problem inside a value or params object; the definition adds the field and rule index."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


class ParamError(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__(", ".join(issue.code for issue in issues))
        self.issues = issues


def parse_number(raw: object) -> Decimal | str:
    """A JSON number or numeric string as a finite Decimal, or the problem code."""
    if isinstance(raw, bool):
        return ProblemCode.BOOLEAN_NOT_ALLOWED
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            return ProblemCode.INVALID_NUMBER
        return Decimal(repr(raw))
    if isinstance(raw, str) and _NUMBER.fullmatch(raw):
        return Decimal(raw)
    return ProblemCode.INVALID_NUMBER


def decimal_places_ok(value: Decimal, places: int) -> bool:
    return value == value.quantize(Decimal(1).scaleb(-places))


def time_of_day(raw: object) -> int | None:
    """Minutes after midnight of an "HH:MM" string, or None."""
    if not isinstance(raw, str) or not _TIME.fullmatch(raw):
        return None
    return int(raw[:2]) * 60 + int(raw[3:])


def _minutes(slot: tuple[str, str]) -> list[tuple[int, int]]:
    """A slot as half-open ranges of minutes after midnight; one that wraps midnight is two."""
    start, end = time_of_day(slot[0]), time_of_day(slot[1])
    assert start is not None and end is not None
    return [(start, end)] if start < end else [(start, 24 * 60), (0, end)]


def _overlapping(slots: list[tuple[str, str]]) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """The pairs of slots that share some minutes (a slot ending when the next starts shares none)."""
    pairs = []
    for i, first in enumerate(slots):
        for second in slots[i + 1 :]:
            if any(a < d and c < b for a, b in _minutes(first) for c, d in _minutes(second)):
                pairs.append((first, second))
    return pairs


class Params:
    """A JSON object being read; ``prefix`` qualifies keys of nested objects (``slots[0].``)."""

    def __init__(self, raw: object, allowed: Iterable[str], *, prefix: str = "") -> None:
        self.issues: list[Issue] = []
        self.prefix = prefix
        self.data: Mapping[str, Any]
        if not isinstance(raw, Mapping):
            self.add(ProblemCode.NOT_AN_OBJECT, {"key": prefix.rstrip(".")} if prefix else {})
            self.data = {}
            return
        self.data = raw
        allowed = set(allowed)
        for key in raw:
            if key not in allowed:
                self.add(ProblemCode.UNKNOWN_KEY, {"key": self.key(str(key))})

    def key(self, key: str) -> str:
        return self.prefix + key

    def add(self, code: str, params: dict[str, Any] | None = None) -> None:
        self.issues.append(Issue(code, params or {}))

    def present(self, key: str, *, required: bool) -> bool:
        if self.data.get(key) is not None:
            return True
        if required:
            self.add(ProblemCode.REQUIRED, {"key": self.key(key)})
        return False

    def done(self) -> None:
        if self.issues:
            raise ParamError(self.issues)

    # numbers

    def decimal(self, key: str, *, places: int, maximum: Decimal, required: bool = True) -> Decimal | None:
        """A number above 0, at most ``maximum``, with at most ``places`` decimal places."""
        if not self.present(key, required=required):
            return None
        value = parse_number(self.data[key])
        name = self.key(key)
        if isinstance(value, str):
            self.add(value, {"key": name})
            return None
        if value <= 0:
            self.add(ProblemCode.NOT_POSITIVE, {"key": name})
            return None
        if value > maximum:
            self.add(ProblemCode.TOO_LARGE, {"key": name, "max": str(maximum)})
            return None
        if not decimal_places_ok(value, places):
            self.add(ProblemCode.TOO_MANY_DECIMALS, {"key": name, "max_places": places})
            return None
        return value

    def money(self, key: str, *, required: bool = True) -> Decimal | None:
        value = self.decimal(key, places=2, maximum=MAX_MONEY, required=required)
        return None if value is None else value.quantize(Decimal("0.01"))

    def _integer(self, raw: object, name: str, low: int, high: int) -> int | None:
        if isinstance(raw, bool):
            self.add(ProblemCode.BOOLEAN_NOT_ALLOWED, {"key": name})
            return None
        if not isinstance(raw, int):
            self.add(ProblemCode.NOT_AN_INTEGER, {"key": name})
            return None
        if not low <= raw <= high:
            self.add(ProblemCode.OUT_OF_RANGE, {"key": name, "min": low, "max": high})
            return None
        return raw

    def integer(self, key: str, *, low: int, high: int, default: int | None = None) -> int | None:
        if not self.present(key, required=default is None):
            return default
        return self._integer(self.data[key], self.key(key), low, high)

    # text and flags

    def string(self, key: str) -> str | None:
        if not self.present(key, required=True):
            return None
        raw = self.data[key]
        if not isinstance(raw, str):
            self.add(ProblemCode.NOT_A_STRING, {"key": self.key(key)})
            return None
        if not raw.strip():
            self.add(ProblemCode.EMPTY_STRING, {"key": self.key(key)})
            return None
        return raw

    def boolean(self, key: str) -> bool | None:
        if not self.present(key, required=True):
            return None
        raw = self.data[key]
        if not isinstance(raw, bool):
            self.add(ProblemCode.NOT_A_BOOLEAN, {"key": self.key(key)})
            return None
        return raw

    def choice(self, key: str, choices: tuple[str, ...], *, default: str) -> str:
        if not self.present(key, required=False):
            return default
        raw = self.data[key]
        if raw not in choices:
            self.add(ProblemCode.INVALID_CHOICE, {"key": self.key(key), "value": raw, "choices": list(choices)})
            return default
        return str(raw)

    # lists

    def array(self, key: str, *, required: bool, non_empty: bool) -> list[Any]:
        if not self.present(key, required=required):
            return []
        raw = self.data[key]
        if not isinstance(raw, list):
            self.add(ProblemCode.NOT_A_LIST, {"key": self.key(key)})
            return []
        if non_empty and not raw:
            self.add(ProblemCode.EMPTY_LIST, {"key": self.key(key)})
        return raw

    def _no_duplicates(self, key: str, values: list[Any]) -> None:
        seen: set[Any] = set()
        for value in values:
            if value in seen:
                self.add(ProblemCode.DUPLICATE_VALUE, {"key": self.key(key), "value": value})
            seen.add(value)

    # Lists that are sets (skus, categories, weekdays, channels, coupon types) come back in one order
    # whatever order they were given in, so a definition is stored the same from the editor and the API.

    def strings(self, key: str, *, required: bool = False, non_empty: bool = False) -> tuple[str, ...]:
        """A list of non-empty strings without repeats (skus, category codes), sorted."""
        items = self.array(key, required=required, non_empty=non_empty)
        good: list[str] = []
        for index, raw in enumerate(items):
            name = f"{self.key(key)}[{index}]"
            if not isinstance(raw, str):
                self.add(ProblemCode.NOT_A_STRING, {"key": name})
            elif not raw.strip():
                self.add(ProblemCode.EMPTY_STRING, {"key": name})
            else:
                good.append(raw)
        self._no_duplicates(key, good)
        return tuple(sorted(good))

    def choices(self, key: str, choices: tuple[str, ...], *, non_empty: bool) -> tuple[str, ...]:
        items = self.array(key, required=non_empty, non_empty=non_empty)
        good: list[str] = []
        for index, raw in enumerate(items):
            if isinstance(raw, str) and raw in choices:
                good.append(raw)
            else:
                name = f"{self.key(key)}[{index}]"
                self.add(ProblemCode.INVALID_CHOICE, {"key": name, "value": raw, "choices": list(choices)})
        self._no_duplicates(key, good)
        return tuple(sorted(good, key=choices.index))  # in the declared order

    def integers(self, key: str, *, low: int, high: int) -> tuple[int, ...]:
        items = self.array(key, required=True, non_empty=True)
        good: list[int] = []
        for index, raw in enumerate(items):
            value = self._integer(raw, f"{self.key(key)}[{index}]", low, high)
            if value is not None:
                good.append(value)
        self._no_duplicates(key, good)
        return tuple(sorted(good))

    def slots(self, key: str) -> tuple[tuple[str, str], ...]:
        """A non-empty list of at most ``MAX_SLOTS`` ``{"start": "HH:MM", "end": "HH:MM"}``; a slot may wrap
        midnight."""
        slots: list[tuple[str, str]] = []
        items = self.array(key, required=True, non_empty=True)
        if len(items) > MAX_SLOTS:
            self.add(ProblemCode.TOO_MANY_SLOTS, {"key": self.key(key), "max": MAX_SLOTS})
        for index, raw in enumerate(items):
            slot = self.nested(raw, ("start", "end"), f"{key}[{index}].")
            if not isinstance(raw, Mapping):
                continue
            times = {}
            for end in ("start", "end"):
                if not slot.present(end, required=True):
                    continue
                if time_of_day(slot.data[end]) is None:
                    slot.add(ProblemCode.INVALID_TIME, {"key": slot.key(end), "value": slot.data[end]})
                else:
                    times[end] = slot.data[end]
            if len(times) == 2:
                if times["start"] == times["end"]:
                    slot.add(ProblemCode.EMPTY_SLOT, {"key": self.key(f"{key}[{index}]")})
                else:
                    slots.append((times["start"], times["end"]))
        for first, second in _overlapping(slots):
            self.add(
                ProblemCode.OVERLAPPING_SLOTS,
                {"key": self.key(key), "first": "-".join(first), "second": "-".join(second)},
            )
        return tuple(slots)

    # declared params

    def read(self, param: Param) -> Any:
        """The value of one declared param, read by its kind; problems are collected here."""
        name, kind = param.name, param.kind
        if kind == ParamKind.MONEY:
            return self.money(name, required=param.required)
        if kind == ParamKind.PERCENT_OFF:
            maximum = Decimal(param.maximum if param.maximum is not None else 100)
            return self.decimal(name, places=2, maximum=maximum, required=param.required)
        if kind == ParamKind.INTEGER:
            low = int(param.minimum if param.minimum is not None else 0)
            high = int(param.maximum if param.maximum is not None else 2**31 - 1)
            return self.integer(name, low=low, high=high, default=None if param.required else param.default)
        if kind == ParamKind.DISH:
            return self.string(name)
        if kind in (ParamKind.DISHES, ParamKind.CATEGORIES):
            return self.strings(name, required=param.required, non_empty=param.required)
        if kind == ParamKind.TIME_SLOTS:
            return self.slots(name)
        if kind == ParamKind.WEEKDAYS:
            return self.integers(name, low=1, high=7)
        if kind in (ParamKind.CHANNELS, ParamKind.COUPON_TYPES):
            return self.choices(name, param.choices, non_empty=param.required)
        if kind == ParamKind.BOOL:
            if not param.required and not self.present(name, required=False):
                return bool(param.default)
            return self.boolean(name)
        if kind == ParamKind.CHOICE:
            return self.choice(name, param.choices, default=param.default)
        raise ValueError(f"no reader for {kind}")

    def read_all(self, params: Iterable[Param]) -> dict[str, Any]:
        return {param.name: self.read(param) for param in params}

    def nested(self, raw: object, allowed: Iterable[str], prefix: str) -> Params:
        """Read a nested object; its problems are collected here."""
        inner = Params(raw, allowed, prefix=self.key(prefix))
        self.issues.extend(inner.issues)
        inner.issues = self.issues
        return inner
