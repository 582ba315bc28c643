"""What a coupon type's ``value`` and a usage rule's ``params`` hold, declared once per class.

A ``Param`` names one key, its kind (money, a percentage off, dishes, time slots ...), whether it is
required and its bounds. The engine reads and checks JSON through it (``Params.read``); the Django side
derives the admin widgets, the staff API schema and the human summary from the same declaration.
Labels and summary phrases are msgids marked with ``gettext_noop``: the engine never translates, the
Django side does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

MAX_MONEY = Decimal("100000.00")
# Time slots of one VALID_TIME_SLOTS rule: breakfast, lunch, dinner and a late-night slot.
MAX_SLOTS = 4


class ParamKind(StrEnum):
    MONEY = "money"  # "10.00", 2 places, above 0
    PERCENT_OFF = "percent_off"  # stored as the percentage off (12); staff enter it as 折 (8.8)
    INTEGER = "integer"
    DISH = "dish"  # one sku on the menu
    DISHES = "dishes"  # skus on the menu
    CATEGORIES = "categories"  # category codes on the menu
    TIME_SLOTS = "time_slots"  # [{"start": "11:00", "end": "14:00"}]
    WEEKDAYS = "weekdays"  # ISO weekdays, 1 = Monday
    CHANNELS = "channels"
    COUPON_TYPES = "coupon_types"
    BOOL = "bool"
    CHOICE = "choice"


@dataclass(frozen=True)
class Param:
    """One key of a ``value`` or ``params`` object.

    ``minimum`` / ``maximum`` bound numbers (money has its own ceiling, ``MAX_MONEY``); ``choices``
    lists what a choice or a list of choices may hold; ``default`` is what an absent optional key means.
    """

    name: str
    kind: ParamKind
    label: str
    required: bool = True
    minimum: int | Decimal | None = None
    maximum: int | Decimal | None = None
    choices: tuple[str, ...] = ()
    choice_labels: tuple[str, ...] = ()  # msgids beside ``choices``, when the codes need words
    default: Any = None
    help_text: str = ""

    @property
    def is_list(self) -> bool:
        return self.kind in LIST_KINDS


LIST_KINDS = frozenset(
    {
        ParamKind.DISHES,
        ParamKind.CATEGORIES,
        ParamKind.TIME_SLOTS,
        ParamKind.WEEKDAYS,
        ParamKind.CHANNELS,
        ParamKind.COUPON_TYPES,
    }
)


def names(params: tuple[Param, ...]) -> tuple[str, ...]:
    return tuple(param.name for param in params)
