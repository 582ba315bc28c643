"""Spreading one coupon's discount over the lines of its base."""

from __future__ import annotations

from collections.abc import Sequence

from coupons.engine.money import Cents


def allocate(discount: Cents, base: Sequence[int], left: Sequence[Cents]) -> list[tuple[int, Cents]]:
    """Split ``discount`` over the lines ``base`` (ascending indices into ``left``, what each line has left).

    Each line gets its proportional share rounded down to the cent; the cents left over go to the
    largest line, then the next largest when a line has nothing more to give (ties: lower index, and
    lines are indexed in line-key order, so the result does not depend on the cart's order). Shares add
    up to ``discount`` exactly and no line gives more than it has left. Returns (index, cents) pairs
    with cents > 0, in the order of ``base``.
    """
    if discount <= 0:
        return []
    amounts = [left[i] for i in base]
    total = sum(amounts)
    if discount > total:
        raise ValueError(f"cannot take {discount} from a base with {total} left")
    shares = [discount * amount // total for amount in amounts]
    remainder = discount - sum(shares)
    if remainder:
        # Usually the largest line has room for the few cents; base is in index order, so index()
        # finds the lowest index among equal largest lines.
        largest = amounts.index(max(amounts))
        if amounts[largest] - shares[largest] >= remainder:
            shares[largest] += remainder
            remainder = 0
    if remainder:
        for j in sorted(range(len(base)), key=lambda j: (-amounts[j], base[j])):
            give = min(amounts[j] - shares[j], remainder)
            shares[j] += give
            remainder -= give
            if not remainder:
                break
    return [(i, cents) for i, cents in zip(base, shares, strict=True) if cents]
