"""The best combination of a customer's coupons for a cart (SPEC 7 and 10)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from coupons.engine.allocation import allocate
from coupons.engine.cart import PricedCart
from coupons.engine.kinds import CashOff, PercentOff
from coupons.engine.money import Cents
from coupons.engine.pricing import Assessment, apply_assessed, assess_all, evaluation_of
from coupons.engine.types import Application, Cart, Context, Coupon, Preview

# Percentages are in basis points; the refined bound works in units of 1/20000 cent so that the
# half cent of round-half-up stays an integer.
_SCALE = 20000


@dataclass(frozen=True)
class _Choice:
    """A candidate answer, compared by: larger benefit, then fewer coupons, then the smaller tuple of
    positions in the stacking order."""

    benefit: Cents
    positions: tuple[int, ...]

    def beats(self, other: _Choice) -> bool:
        if self.benefit != other.benefit:
            return self.benefit > other.benefit
        if len(self.positions) != len(other.positions):
            return len(self.positions) < len(other.positions)
        return self.positions < other.positions


@dataclass(frozen=True)
class _Candidate:
    """A usable stackable coupon as the search sees it. ``index`` is its place in the searched list."""

    index: int
    position: int
    coupon_type: str
    excluded_types: frozenset[str]
    self_exclusive: bool  # excludes its own type: no other coupon of that type beside it
    base: tuple[int, ...]
    base_id: int
    cash: CashOff | None
    percent: PercentOff | None
    worth: Cents  # gift worth; 0 for money coupons
    alone: Cents  # benefit on its own, an upper bound of its benefit in any combination

    def take(self, base_left: Cents) -> Cents:
        if self.cash is not None:
            return self.cash.take(base_left)
        if self.percent is not None:
            return self.percent.take(base_left)
        return 0


class _Search:
    """Depth-first branch and bound over one list of mutually allowed candidates (see ``best_choice``)."""

    def __init__(
        self, candidates: list[_Candidate], bases: list[tuple[int, ...]], left: list[Cents], best: _Choice
    ) -> None:
        self.cands = candidates
        self.bases = bases
        self.root_left = left
        self.best = best
        n = len(candidates)
        self.suffix_alone = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            self.suffix_alone[k] = self.suffix_alone[k + 1] + candidates[k].alone
        # Lines any money candidate from k on could take from.
        self.suffix_lines: list[tuple[int, ...]] = [()] * (n + 1)
        lines: set[int] = set()
        for k in range(n - 1, -1, -1):
            lines.update(candidates[k].base)
            self.suffix_lines[k] = tuple(sorted(lines))
        self.percents = [c for c in candidates if c.percent is not None]
        rates = [(p.index, p.percent.basis_points) for p in self.percents if p.percent is not None]
        # The refined bound needs, for every cash coupon, the percentages applied after it to add up to
        # at most 100 %: then taking more cash never lowers the bound (see _refined_bound).
        self.refine = bool(rates) and all(
            sum(rate for index, rate in rates if index > c.index) <= 10000 for c in candidates if c.cash is not None
        )
        self.nested = {
            p.index: [c.index for c in candidates[: p.index] if c.cash and set(c.base) <= set(p.base)]
            for p in self.percents
        }
        self.outside: dict[tuple[int, int], tuple[int, ...]] = {}

    def _outside(self, k: int, p: _Candidate) -> tuple[int, ...]:
        """Lines outside ``p``'s base that cash coupons between k and ``p`` could take from."""
        key = (k, p.index)
        if key not in self.outside:
            lines: set[int] = set()
            for c in self.cands[k : p.index]:
                if c.cash is not None:
                    lines.update(c.base)
            self.outside[key] = tuple(sorted(lines - set(p.base)))
        return self.outside[key]

    def _bound(self, k: int, left: list[Cents], closed: frozenset[str]) -> Cents:
        """An upper bound of what candidates k.. can add to the benefit, whatever subset is taken.

        Sound because (1) a coupon's take is a non-decreasing function of what is left of its base, and
        what is left only shrinks as coupons apply, so each candidate is bounded by its take now;
        (2) coupons sharing a base take at most what is left of it, and all of them at most what is left
        of the lines they cover; (3) see ``_refined_bound``.
        """
        base_left = [sum(left[i] for i in base) for base in self.bases]
        takes: dict[int, Cents] = {}
        per_base = [0] * len(self.bases)
        gifts = money = 0
        for c in self.cands[k:]:
            if c.coupon_type in closed:
                continue
            if c.cash is None and c.percent is None:
                gifts += c.worth
                continue
            take = c.take(base_left[c.base_id])
            takes[c.index] = take
            per_base[c.base_id] += take
            money += take
        bound = min(
            money,
            sum(min(taken, base_left[b]) for b, taken in enumerate(per_base)),
            sum(left[i] for i in self.suffix_lines[k]),
        )
        if self.refine and any(p.index >= k for p in self.percents):
            bound = min(bound, self._refined_bound(k, left, base_left, takes))
        return bound + gifts

    def _refined_bound(self, k: int, left: list[Cents], base_left: list[Cents], takes: dict[int, Cents]) -> Cents:
        """Cash taken before a percentage coupon shrinks what the percentage applies to.

        For a percentage coupon p (rate r, cap m) let T be what coupons applied before it take from its
        base B. Its take is at most min(r·(left(B) - T) + ½ cent, m). T is at least the cash taken by
        earlier cash coupons whose base lies inside B, and at least all earlier cash minus what is left
        outside B on their lines. The bound sum(cash takes) + sum over p of that expression does not
        decrease as any cash take grows when, for every cash coupon, the rates of the percentages after
        it add up to at most 100 %; so it is largest with every cash take at its own bound.
        """
        cash = sum(take for index, take in takes.items() if self.cands[index].cash is not None)
        scaled = cash * _SCALE
        for p in self.percents:
            if p.index < k or p.index not in takes or p.percent is None:
                continue
            nested = sum(takes.get(i, 0) for i in self.nested[p.index] if i >= k)
            earlier = sum(takes.get(c.index, 0) for c in self.cands[k : p.index] if c.cash is not None)
            outside = sum(left[i] for i in self._outside(k, p))
            taken_before = max(nested, earlier - outside, 0)
            rest = max(base_left[p.base_id] - taken_before, 0)
            value = 2 * rest * p.percent.basis_points + _SCALE // 2
            if p.percent.cap is not None:
                value = min(value, p.percent.cap * _SCALE)
            scaled += value
        return scaled // _SCALE

    def _hopeless(self, bound: Cents, k: int, gained: Cents, chosen: list[int]) -> bool:
        """True when nothing below this node can beat the best answer so far."""
        best = self.best
        if bound < best.benefit:
            return True
        if bound > best.benefit:
            return False
        # At best a tie on benefit: it must win on fewer coupons or on positions.
        more = 0 if gained >= best.benefit else 1
        count = len(chosen) + more
        if count != len(best.positions):
            return count > len(best.positions)
        if more == 0:
            return True  # this very set was recorded when its last coupon was taken
        prefix = tuple(chosen)
        head = best.positions[: len(prefix)]
        if prefix != head:
            return prefix > head
        return best.positions[len(prefix)] < self.cands[k].position

    def run(self) -> _Choice:
        self._visit(0, list(self.root_left), 0, [], frozenset(), frozenset())
        return self.best

    def _visit(
        self,
        k: int,
        left: list[Cents],
        gained: Cents,
        chosen: list[int],
        used: frozenset[str],
        closed: frozenset[str],
    ) -> None:
        if k == len(self.cands):
            return
        if gained + self.suffix_alone[k] < self.best.benefit:
            return
        if self._hopeless(gained + self._bound(k, left, closed), k, gained, chosen):
            return
        c = self.cands[k]
        allowed = c.coupon_type not in closed and not (c.self_exclusive and c.coupon_type in used)
        if allowed:
            if c.cash is None and c.percent is None:
                take, after = c.worth, left
            else:
                take = c.take(sum(left[i] for i in c.base))
                after = list(left)
                for i, cents in allocate(take, c.base, left):
                    after[i] -= cents
            # A money coupon that takes nothing is refused (NO_BENEFIT); a gift worth nothing only adds
            # a coupon. Either way a set with it never beats the same set without it.
            if take > 0:
                chosen.append(c.position)
                choice = _Choice(gained + take, tuple(chosen))
                if choice.beats(self.best):
                    self.best = choice
                self._visit(
                    k + 1,
                    after,
                    gained + take,
                    chosen,
                    used | {c.coupon_type},
                    closed | {c.coupon_type} if c.self_exclusive else closed,
                )
                chosen.pop()
        self._visit(k + 1, left, gained, chosen, used, closed)


def _allowed_groups(stackable: list[Assessment]) -> list[list[Assessment]]:
    """The largest lists of stackable coupons within which only same-type exclusions remain.

    Exclusions are by type, so fix the set T of types that may appear: a coupon may join when its type
    is in T and it excludes no other type of T. Any allowed combination with types T lies inside T's
    list, and a list that is inside another adds nothing, so only the largest lists are searched.
    """
    types = sorted({a.coupon.type for a in stackable})
    groups: list[frozenset[int]] = []
    for size in range(len(types), 0, -1):
        for chosen_types in combinations(types, size):
            allowed = set(chosen_types)
            group = frozenset(
                index
                for index, a in enumerate(stackable)
                if a.coupon.type in allowed and not (a.excluded_types & (allowed - {a.coupon.type}))
            )
            if group and not any(group <= other for other in groups):
                groups = [other for other in groups if not other <= group]
                groups.append(group)
    return [[stackable[i] for i in sorted(group)] for group in groups]


def best_choice(priced: PricedCart, usable: Sequence[Assessment]) -> list[Assessment]:
    """The combination of usable coupons with the largest benefit (money off + gift worth at menu
    price). Exact: the same answer as applying every allowed subset and keeping the best.

    Ties go to fewer coupons, then to the coupons earliest in the stacking order (item-scoped first,
    cash before percentage before gift, then lower id), compared as sorted lists.

    Method. A coupon that does not stack can only be alone, so every coupon alone is an answer to
    beat. The stackable coupons are split into groups (``_allowed_groups``) inside which any subset
    passes the type exclusions, except a coupon that excludes its own type, which the search keeps
    alone of its type. Each group is searched depth first in the stacking order, taking a coupon
    before leaving it out; a node carries what is left of every line after the coupons taken so far,
    so extending a combination costs one allocation, and the benefit of every combination reached is
    the one ``apply_coupons`` would compute. A node is cut when an upper bound of what the remaining
    coupons can still add (``_Search._bound``) cannot beat the best answer so far, ties included.
    Every bound is proved from two facts: a coupon's take never grows when less of its base is left,
    and coupons never take more than is left of the lines. No pruning assumes that benefits add up,
    so caps, used-up bases and percentages after cash are all exact.
    """
    ordered = sorted(usable, key=lambda a: a.order_key)
    best = _Choice(0, ())
    for position, assessment in enumerate(ordered):
        choice = _Choice(assessment.take + assessment.worth, (position,))
        if choice.beats(best):
            best = choice

    stackable = [a for a in ordered if a.stackable]
    position_of = {id(a): position for position, a in enumerate(ordered)}
    for group in _allowed_groups(stackable):
        bases: dict[tuple[int, ...], int] = {}
        candidates = []
        for index, a in enumerate(group):
            benefit = a.benefit
            candidates.append(
                _Candidate(
                    index=index,
                    position=position_of[id(a)],
                    coupon_type=a.coupon.type,
                    excluded_types=a.excluded_types,
                    self_exclusive=a.coupon.type in a.excluded_types,
                    base=a.base,
                    base_id=bases.setdefault(a.base, len(bases)),
                    cash=benefit if isinstance(benefit, CashOff) else None,
                    percent=benefit if isinstance(benefit, PercentOff) else None,
                    worth=a.worth,
                    alone=a.take + a.worth,
                )
            )
        best = _Search(candidates, list(bases), [line.amount for line in priced.lines], best).run()
    return [ordered[position] for position in best.positions]


def preview(cart: Cart, coupons: Sequence[Coupon], ctx: Context) -> Preview:
    """Every coupon on its own (input order) and the best combination, checking each coupon once."""
    ids = [coupon.id for coupon in coupons]
    if len(set(ids)) != len(ids):
        raise ValueError("coupon ids must be distinct")
    priced = PricedCart.of(cart)
    assessments = assess_all(priced, coupons, ctx)
    chosen = best_choice(priced, [a for a in assessments if a.usable])
    best = apply_assessed(priced, chosen)
    assert best.ok, best.refused
    return Preview(tuple(evaluation_of(priced, a) for a in assessments), best)


def best_combination(cart: Cart, coupons: Sequence[Coupon], ctx: Context) -> Application:
    """The best allowed combination of the coupons, applied (see ``best_choice``)."""
    return preview(cart, coupons, ctx).best
