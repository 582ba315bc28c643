"""The usage-rule base class. A rule reads and checks its params (when a template is saved) and
evaluates them (at checkout); nothing outside its class knows what the params mean."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Self

from coupons.engine.cart import PricedLine
from coupons.engine.codes import ProblemCode
from coupons.engine.declarations import Param, names
from coupons.engine.money import Cents
from coupons.engine.params import Params
from coupons.engine.types import COUPON_TYPES, Reason


@dataclass(frozen=True)
class Situation:
    """What a condition is checked against. ``base_subtotal`` is the coupon's discount base at menu
    prices, before any coupon: thresholds are measured there ("满100" means 100 worth was bought)."""

    lines: tuple[PricedLine, ...]
    skus: frozenset[str]
    categories: frozenset[str]
    base_subtotal: Cents
    local_now: datetime
    channel: str


@dataclass(frozen=True)
class StackPolicy:
    allow_stacking: bool
    exclude_coupon_types: frozenset[str]


class Rule(ABC):
    """One ``rule_type``. Subclasses override only the hooks they need.

    - ``params``: the declaration of its params (``Param``), from which validation, the admin widgets,
      the API schema and the summary are derived; ``label`` names the rule for staff (a msgid).
    - ``one_of``: param names of which at least one must hold an entry (an item or a category list).
    - ``summary`` (or ``summary_for``): the msgid of its phrase in a template's summary, formatted with
      the params shown by kind. ``threshold`` marks a spend threshold that a coupon type's own phrase may
      absorb ("满100元减10元").

    - ``check``: a condition on the cart, time or channel; a failure is a ``Reason`` coded ``rule_type``.
    - ``keeps`` with ``base_stage`` set: the rule narrows the discount base; when it leaves nothing,
      ``empty_base_reason`` says so. Narrowing rules apply in ``base_stage`` order.
    - ``stack_policy``: how the coupon combines with others.
    - ``message`` (or ``message_for``): the msgid of the reason, marked with ``gettext_noop``.
    """

    rule_type: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    label: ClassVar[str] = ""
    one_of: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    threshold: ClassVar[bool] = False
    summary_group: ClassVar[str] = ""  # adjacent phrases of one group read as one ("周一至周五 11:00-14:00")
    coupon_types: ClassVar[frozenset[str]] = frozenset(COUPON_TYPES)
    message: ClassVar[str] = ""
    base_stage: ClassVar[int | None] = None
    scopes_items: ClassVar[bool] = False

    @classmethod
    def parse(cls, raw: object) -> Self:
        """Read ``params``; raise ``ParamError`` with every problem found."""
        params = Params(raw, cls.keys())
        rule = cls._read(params)
        if cls.one_of and not any(isinstance(params.data.get(key), list) and params.data[key] for key in cls.one_of):
            params.add(ProblemCode.NO_ITEMS, {"keys": list(cls.one_of)})
        params.done()
        assert rule is not None
        return rule

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return names(cls.params)

    @classmethod
    def _read(cls, params: Params) -> Self | None:
        """Read the declared params into the dataclass fields of the same names."""
        return cls(**params.read_all(cls.params))

    @classmethod
    def summary_for(cls, params: Mapping[str, Any]) -> str:
        return cls.summary

    @abstractmethod
    def to_params(self) -> dict[str, Any]:
        """The normalised params (money as "10.00")."""

    @classmethod
    def message_for(cls, params: Mapping[str, Any]) -> str:
        return cls.message

    def threshold_amount(self) -> Decimal | None:
        """The spend threshold this rule sets (``threshold`` rules), for the sense checks."""
        return None

    def check(self, situation: Situation) -> Reason | None:
        return None

    def keeps(self, line: PricedLine) -> bool:
        return True

    def empty_base_reason(self) -> Reason:
        return Reason(self.rule_type, self.to_params())

    def stack_policy(self) -> StackPolicy | None:
        return None
