"""Facts coupons need from the apps above them, provided by those apps (dependency inversion).

Coupons check that the dishes and categories a template names are on the menu, and the daily figures
count the money coupons took off orders; the menu and the orders belong to ``orders``, which registers
the readers here when it starts (``OrdersConfig.ready``). Coupons never import orders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class OrderFacts:
    # the SKUs among those given that are dishes on the menu
    known_skus: Callable[[Iterable[str]], set[str]]
    # the category codes among those given that exist
    known_categories: Callable[[Iterable[str]], set[str]]
    # template id -> the discount its coupons gave to orders, for coupons USED in [start, end)
    discounts_by_template: Callable[[datetime, datetime], dict[int, Decimal]]


_provided: list[OrderFacts] = []


def provide_order_facts(facts: OrderFacts) -> None:
    _provided[:] = [facts]


def order_facts() -> OrderFacts:
    if not _provided:
        raise RuntimeError("no order facts provided: is the orders app installed?")
    return _provided[0]
