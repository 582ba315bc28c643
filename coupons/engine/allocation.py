"""Spreading one coupon's discount over the lines of its base (SPEC 7)."""

from __future__ import annotations

from collections.abc import Sequence

from coupons.engine.money import Cents


def allocate(discount: Cents, base: Sequence[int], left: Sequence[Cents]) -> list[tuple[int, Cents]]:
    """Split ``discount`` over the lines ``base`` (indices into ``left``, what each line has left).

    Each line gets its proportional share rounded down to the cent; the cents left over go to the
    largest line, then the next largest when a line has nothing more to give (ties: lower index, and
    lines are indexed in line-key order, so the result does not depend on the cart's order). Shares add
    up to ``discount`` exactly and no line gives more than it has left. Returns (index, cents) pairs
    with cents > 0, by index.
    """
    if discount <= 0:
        return []
    total = sum(left[i] for i in base)
    if discount > total:
        raise ValueError(f"cannot take {discount} from a base with {total} left")
    shares = {i: discount * left[i] // total for i in base}
    remainder = discount - sum(shares.values())
    if remainder:
        for i in sorted(base, key=lambda i: (-left[i], i)):
            give = min(left[i] - shares[i], remainder)
            shares[i] += give
            remainder -= give
            if not remainder:
                break
    return sorted((i, cents) for i, cents in shares.items() if cents)
