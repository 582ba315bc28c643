"""Facts about the menu and orders that the layers beside and below orders need, provided by orders
(dependency inversion).

Coupons check that the dishes and categories a template names are on the menu, and the daily figures
count the money coupons took off orders; marketing's segments ask who ordered lately. The menu and the
orders belong to ``orders``, which registers the readers here when it starts (``OrdersConfig.ready``).
Neither coupons nor marketing imports orders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet


@dataclass(frozen=True)
class OrderFacts:
    # the SKUs among those given that are dishes on the menu
    known_skus: Callable[[Iterable[str]], set[str]]
    # the category codes among those given that exist
    known_categories: Callable[[Iterable[str]], set[str]]
    # template id -> the discount its coupons gave to orders, for coupons USED in [start, end)
    discounts_by_template: Callable[[datetime, datetime], dict[int, Decimal]]
    # the orders (other than cancelled ones) placed at or after a time, as a queryset with ``user_id``
    # (marketing's segments filter on it with ``Exists``)
    orders_placed_since: Callable[[datetime], QuerySet[Any]]
    # (sku -> dish name, category code -> category name) of those given that exist (summaries)
    menu_names: Callable[[Iterable[str], Iterable[str]], tuple[dict[str, str], dict[str, str]]]
    # a dish's menu price, or None when no dish has that SKU (a free item's worth)
    dish_price: Callable[[str], Decimal | None]
    # what admin's autocomplete needs to pick dishes and categories: (dish model, category model,
    # a relation that leads to dishes, a relation that leads to categories)
    menu_pickers: Callable[[], tuple[Any, Any, Any, Any]]


_provided: list[OrderFacts] = []


def provide_order_facts(facts: OrderFacts) -> None:
    _provided[:] = [facts]


def order_facts() -> OrderFacts:
    if not _provided:
        raise RuntimeError("no order facts provided: is the orders app installed?")
    return _provided[0]
