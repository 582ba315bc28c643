"""Money: ``Decimal`` yuan with 2 places, quantized in one place.

Every amount enters and leaves the engine as a ``Decimal`` made by :func:`to_money`. Inside the pricing
and search loops amounts are carried as integer cents (:func:`to_cents` / :func:`from_cents`): integer
floor division is exact, where ``Decimal`` division would depend on the context precision, and it keeps
the best-combination search fast. Neither path ever touches ``float``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Cents are plain ints; the alias says which ints are money.
Cents = int


def to_money(value: Decimal | int | str) -> Decimal:
    """Quantize to the cent, half up. Floats are refused: they cannot hold most cent amounts exactly."""
    if isinstance(value, float) or isinstance(value, bool):
        raise TypeError(f"money must be Decimal, int or str, not {type(value).__name__}")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(value: Decimal | int | str) -> Cents:
    return int(to_money(value).scaleb(2))


@lru_cache(maxsize=65536)
def from_cents(cents: Cents) -> Decimal:
    # Cached: a preview turns thousands of line shares into Decimals, and Decimals are immutable.
    return Decimal(cents).scaleb(-2)


def percentage_of(base: Cents, basis_points: int) -> Cents:
    """``base`` x ``basis_points`` / 10000, rounded half up to the cent (a percentage of 12.5 is 1250 bp).

    Equal to ``to_money(from_cents(base) * percentage / 100)`` for non-negative ``base``, without the
    Decimal context: floor((2·base·bp + 10000) / 20000) is round-half-up of base·bp/10000.
    """
    return (2 * base * basis_points + 10000) // 20000
