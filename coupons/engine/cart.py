"""The cart as the engine prices it: lines in a canonical order, amounts in cents."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from coupons.engine.money import Cents, to_cents
from coupons.engine.types import Cart


@dataclass(frozen=True)
class PricedLine:
    index: int
    ref: str
    sku: str
    category: str
    amount: Cents  # unit price x quantity, at menu prices


@dataclass(frozen=True)
class PricedCart:
    """Lines sorted by their key, so that line index order is the stable tie-break everywhere."""

    lines: tuple[PricedLine, ...]
    skus: frozenset[str]
    categories: frozenset[str]
    subtotal: Cents

    @classmethod
    def of(cls, cart: Cart) -> PricedCart:
        ordered = sorted(cart.lines, key=lambda line: line.ref)
        lines = tuple(
            PricedLine(index, line.ref, line.sku, line.category, to_cents(line.amount))
            for index, line in enumerate(ordered)
        )
        return cls(
            lines=lines,
            skus=frozenset(line.sku for line in lines),
            categories=frozenset(line.category for line in lines),
            subtotal=sum(line.amount for line in lines),
        )

    @cached_property
    def amounts(self) -> tuple[Cents, ...]:
        return tuple(line.amount for line in self.lines)
