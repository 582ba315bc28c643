"""The best combination of a customer's coupons for a cart."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from coupons.engine.allocation import allocate
from coupons.engine.cart import PricedCart
from coupons.engine.kinds import CashOff, PercentOff
from coupons.engine.money import Cents
from coupons.engine.pricing import Assessment, apply_assessed, assess_all, evaluation_of
from coupons.engine.types import Application, Cart, Context, Coupon, Preview

# The nodes one best-combination search may visit. Real wallets need a few hundred (the benchmark's
# 200-coupon wallet about 60); a contrived one (tens of copies of percentages adding up to over 100 %)
# could need millions, seconds to minutes on a request, with the coupons' rows locked when an order is
# placed. Past this the best combination found so far is the answer, the same for the preview and the
# order (the search is deterministic), and a warning is logged. About 15 µs a node: under a second.
NODE_BUDGET = 50_000

logger = logging.getLogger(__name__)


class _OutOfBudget(Exception):
    pass


# Above this many ways to pick one coupon (or none) of each type that excludes its own, the coupons are
# searched per set of types (``_type_sets``) instead of per pick (``_choice_groups``).
CHOICE_GROUPS_MAX = 64

# How a search has taken a coupon type so far: not at all, with coupons that share it, or with one coupon
# that excludes its own type.
_UNUSED, _SHARED, _LONER = 0, 1, 2

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
    """A usable money coupon as the search sees it. ``index`` is its place in the searched list."""

    index: int
    position: int
    phase: int  # 0 item-scoped, 1 order-wide: the first part of the stacking order
    base: tuple[int, ...]
    base_id: int
    cash: CashOff | None
    percent: PercentOff | None
    alone: Cents  # its take on its own: an upper bound of its take in any combination
    kind: int  # its coupon type, numbered within the search
    loner: bool  # it excludes its own type: with it, no other coupon of its type

    def take(self, base_left: Cents) -> Cents:
        if self.cash is not None:
            return self.cash.take(base_left)
        assert self.percent is not None
        return self.percent.take(base_left)


class _Takes:
    """What each candidate from ``start`` on would take now: the raw material of the bounds. A node
    and the nodes below it that leave coupons out share one, since leaving a coupon out changes
    nothing that is left."""

    def __init__(self, search: _Search, start: int, base_left: list[Cents]) -> None:
        self.values = [0] * len(search.cands)
        for c in search.cands[start:]:
            self.values[c.index] = c.take(base_left[c.base_id])


class _Search:
    """Depth-first branch and bound over one group of coupons any subset of which is allowed (see
    ``best_choice``). The group's gifts are always taken: they take no money and only add worth."""

    def __init__(
        self,
        candidates: list[_Candidate],
        bases: list[tuple[int, ...]],
        gifts: tuple[int, ...],
        gift_worth: Cents,
        left: list[Cents],
        best: _Choice,
        budget: list[int],
    ) -> None:
        self.cands = candidates
        self.budget = budget  # nodes left to the whole best_choice, shared by its searches
        self.gifts = gifts
        self.gift_worth = gift_worth
        self.root_left = left
        self.best = best
        self.reached: dict[tuple[int, tuple[Cents, ...], tuple[int, ...]], _Choice] = {}
        self.kinds = 1 + max((c.kind for c in candidates), default=-1)
        n = len(candidates)
        self.bases = bases
        self.line_bases = [[b for b, base in enumerate(bases) if i in base] for i in range(len(left))]
        self.suffix_alone = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            self.suffix_alone[k] = self.suffix_alone[k + 1] + candidates[k].alone
        # Lines any candidate from k on could take from.
        self.suffix_lines: list[tuple[int, ...]] = [()] * (n + 1)
        lines: set[int] = set()
        for k in range(n - 1, -1, -1):
            lines.update(candidates[k].base)
            self.suffix_lines[k] = tuple(sorted(lines))
        self.percents = [c for c in candidates if c.percent is not None]
        # The refined bound needs, for every candidate, the rates of the percentages applied after it
        # to add up to at most 100 %; see _refined.
        rate_after = 0
        self.refine = bool(self.percents)
        for c in reversed(candidates):
            if rate_after > 10000:
                self.refine = False
            if c.percent is not None:
                rate_after += c.percent.basis_points
        # For each percentage p: the candidates before it whose base lies inside p's base, and for each
        # k <= p the lines outside p's base that candidates k..p-1 could take from.
        self.nested: dict[int, list[int]] = {}
        self.outside: dict[int, list[tuple[int, ...]]] = {}
        masks = [sum(1 << i for i in c.base) for c in candidates]
        shown: dict[int, tuple[int, ...]] = {}
        for p in self.percents:
            inside = masks[p.index]
            self.nested[p.index] = [c.index for c in candidates[: p.index] if masks[c.index] & ~inside == 0]
            per_k: list[tuple[int, ...]] = [()] * (p.index + 1)
            union = 0
            for k in range(p.index - 1, -1, -1):
                union |= masks[k]
                outside = union & ~inside
                if outside not in shown:
                    shown[outside] = tuple(i for i in range(len(left)) if outside >> i & 1)
                per_k[k] = shown[outside]
            self.outside[p.index] = per_k

    def _bound(self, k: int, left: list[Cents], base_left: list[Cents], takes: _Takes, kinds: tuple[int, ...]) -> Cents:
        """An upper bound of what candidates k.. can add, whatever subset of them is taken.

        Sound because (1) a coupon's take is a non-decreasing function of what is left of its base, and
        what is left only shrinks as coupons apply, so each candidate takes at most what it would take
        now; (2) coupons sharing a base take at most what is left of it, and all of them together at
        most what is left on the lines they cover; (3) see ``_refined``.
        """
        values = takes.values
        per_base = [0] * len(self.bases)
        shared = [0] * self.kinds  # per type: what its coupons that share may add
        lone = [0] * self.kinds  # per type: the most one coupon that excludes its own type may add
        for c in self.cands[k:]:
            taken = kinds[c.kind]
            if (taken != _UNUSED) if c.loner else (taken == _LONER):
                continue  # it may no longer join (see _visit)
            value = values[c.index]
            per_base[c.base_id] += value
            if c.loner:
                lone[c.kind] = max(lone[c.kind], value)
            else:
                shared[c.kind] += value
        # A type adds what its sharing coupons take, or one lone coupon's take, not both.
        total = sum(max(shared[t], lone[t]) for t in range(self.kinds))
        bound = min(
            total,
            sum(min(taken, base_left[b]) for b, taken in enumerate(per_base)),
            sum(left[i] for i in self.suffix_lines[k]),
        )
        if self.refine and self.percents[-1].index >= k:
            bound = min(bound, self._refined(k, left, base_left, takes))
        return bound

    def _refined(self, k: int, left: list[Cents], base_left: list[Cents], takes: _Takes) -> Cents:
        """Coupons applied before a percentage coupon shrink what the percentage applies to.

        Relax the future to: each cash coupon c takes x_c <= its take now; each percentage coupon p
        (rate r, cap m) takes t_p <= min(r·(left(B) - T) + ½ cent, m, its take now), where B is its
        base and T what coupons before it take from B. T is at least the takes of earlier coupons whose
        base lies inside B, and at least all earlier takes minus what is left outside B on their lines.
        Cash coupons of one base and one part of the order (item-scoped or not) all come before the
        percentages of that part and together take at most what is left of their base: they count as
        one variable. The actual takes are one point of this relaxation. Raising any variable by d
        lowers the limit of each later percentage by at most r·d, so when the rates after every coupon
        add up to at most 100 % the total never drops: the relaxation's maximum is reached by giving
        each variable, in the stacking order, the most it may take. That is computed here, in units of
        1/20000 cent (rounded up, which only raises the bound).
        """
        values = takes.values
        vals = [0] * len(self.cands)
        room: dict[tuple[int, int], int] = {}
        running = 0
        for c in self.cands[k:]:
            value = values[c.index] * _SCALE
            if c.cash is not None:
                key = (c.phase, c.base_id)
                free = room.get(key, base_left[c.base_id] * _SCALE)
                value = min(value, free)
                room[key] = free - value
            elif c.percent is not None:
                # vals is 0 before k, so the coupons nested before k add nothing.
                nested = sum([vals[i] for i in self.nested[c.index]])
                outside = sum([left[i] for i in self.outside[c.index][k]]) * _SCALE
                rest = max(base_left[c.base_id] * _SCALE - max(nested, running - outside, 0), 0)
                limit = -(-2 * c.percent.basis_points * rest // _SCALE) + _SCALE // 2
                if c.percent.cap is not None:
                    limit = min(limit, c.percent.cap * _SCALE)
                value = min(value, limit)
            vals[c.index] = value
            running += value
        return running // _SCALE

    def _hopeless(self, bound: Cents, k: int, gained: Cents, chosen: list[int]) -> bool:
        """True when nothing below this node can beat the best answer so far."""
        best = self.best
        if bound < best.benefit:
            return True
        if bound > best.benefit:
            return False
        # At best a tie on benefit: it must win on fewer coupons or on positions. Gifts sort after every
        # money coupon, so the money positions chosen so far are a prefix of any answer below.
        more = 0 if gained >= best.benefit else 1
        count = len(chosen) + len(self.gifts) + more
        if count != len(best.positions):
            return count > len(best.positions)
        if more == 0:
            return True  # this very set was recorded when its last coupon was taken
        prefix = tuple(chosen)
        head = best.positions[: len(prefix)]
        if prefix != head:
            return prefix > head
        return best.positions[len(prefix)] < self.cands[k].position

    def _record(self, benefit: Cents, chosen: list[int]) -> None:
        choice = _Choice(benefit, (*chosen, *self.gifts))
        if choice.beats(self.best):
            self.best = choice

    def run(self) -> _Choice:
        if self.gifts:
            self._record(self.gift_worth, [])
        left = list(self.root_left)
        base_left = [sum(left[i] for i in base) for base in self.bases]
        try:
            self._visit(0, left, base_left, self.gift_worth, [], None, (_UNUSED,) * self.kinds)
        except _OutOfBudget:
            pass  # the best found so far stands (NODE_BUDGET)
        return self.best

    def _visit(
        self,
        k: int,
        left: list[Cents],
        base_left: list[Cents],
        gained: Cents,
        chosen: list[int],
        takes: _Takes | None,
        kinds: tuple[int, ...],
    ) -> None:
        if k == len(self.cands) or gained + self.suffix_alone[k] < self.best.benefit:
            return
        self.budget[0] -= 1
        if self.budget[0] < 0:
            raise _OutOfBudget
        # What can still be added depends only on k, what is left and which types are taken how, so of two
        # ways to reach the same state only the better one (benefit, then fewer coupons, then positions)
        # can lead to the best.
        here = _Choice(gained, tuple(chosen))
        state = (k, tuple(left), kinds)
        reached = self.reached.get(state)
        if reached is not None and not here.beats(reached):
            return
        self.reached[state] = here
        if takes is None:
            takes = _Takes(self, k, base_left)
        if self._hopeless(gained + self._bound(k, left, base_left, takes, kinds), k, gained, chosen):
            return
        c = self.cands[k]
        take = takes.values[k]
        taken = kinds[c.kind]
        # A coupon that takes nothing is refused (NO_BENEFIT): leave it out. One that excludes its own type
        # joins no other coupon of its type, and none joins it.
        if take > 0 and (taken == _UNUSED if c.loner else taken != _LONER):
            after, base_after = list(left), list(base_left)
            for i, cents in allocate(take, c.base, left):
                after[i] -= cents
                for b in self.line_bases[i]:
                    base_after[b] -= cents
            chosen.append(c.position)
            self._record(gained + take, chosen)
            now = kinds[: c.kind] + ((_LONER if c.loner else _SHARED),) + kinds[c.kind + 1 :]
            self._visit(k + 1, after, base_after, gained + take, chosen, None, now)
            chosen.pop()
        self._visit(k + 1, left, base_left, gained, chosen, takes, kinds)


def _loner(a: Assessment) -> bool:
    """It excludes its own type: used, it is the only coupon of its type."""
    return a.coupon.type in a.excluded_types


def _type_sets(stackable: list[Assessment]) -> list[list[Assessment]]:
    """Lists of stackable coupons within which every allowed combination lies: for each set T of types
    that may appear together, the coupons of a type in T that exclude no other type of T. Inside a list
    the one remaining exclusion, a coupon's of its own type, is kept by the search (``_Search._visit``):
    with such a coupon, no other coupon of its type. A set whose coupons come in fewer types than it
    names is left out (a smaller set gives the same list).

    Each set's list is searched once, so a wallet holding many coupons that exclude their own type
    (twelve claims of each of four such templates) costs a search per set of types, at most 2^4, not
    one per choice of one coupon of each type.
    """
    found: list[list[Assessment]] = []
    seen: set[tuple[int, ...]] = set()
    for _types, eligible in _per_type_set(stackable):
        if tuple(eligible) not in seen:
            seen.add(tuple(eligible))
            found.append([stackable[i] for i in eligible])
    return found


def _per_type_set(stackable: list[Assessment]) -> list[tuple[tuple[str, ...], list[int]]]:
    """For each set of types, largest first, the positions in ``stackable`` of the coupons that may join
    it (their type in the set, no other type of the set excluded); a set whose coupons come in fewer
    types than it names is left out (the same list, or a larger one, comes with the smaller set). No
    exclusion at all: one set, every coupon."""
    types = sorted({a.coupon.type for a in stackable})
    if not any(a.excluded_types for a in stackable):
        return [(tuple(types), list(range(len(stackable))))] if stackable else []
    sets = []
    for size in range(len(types), 0, -1):
        for chosen_types in combinations(types, size):
            allowed = set(chosen_types)
            eligible = [
                index
                for index, a in enumerate(stackable)
                if a.coupon.type in allowed and not (a.excluded_types & (allowed - {a.coupon.type}))
            ]
            if {stackable[i].coupon.type for i in eligible} == allowed:
                sets.append((chosen_types, eligible))
    return sets


def _choice_groups(stackable: list[Assessment]) -> list[list[Assessment]]:
    """Lists of stackable coupons any subset of which may be used together; every allowed combination
    of two or more lies inside one of them.

    Exclusions are by type, so fix the set T of types that may appear: a coupon may join when its type
    is in T and it excludes no other type of T. What remains are coupons that exclude their own type:
    for each such type, either none of them, or one of them and no other coupon of that type. A list
    inside another adds nothing, so only the largest are kept. There are as many lists as ways to pick
    one coupon (or none) of each type that excludes its own: few in a real wallet, where these smaller
    searches are quicker than one per set of types (``_type_sets``).
    """
    if not any(a.excluded_types for a in stackable):
        return [stackable] if stackable else []
    found: set[frozenset[int]] = set()
    for chosen_types, eligible in _per_type_set(stackable):
        variants = [frozenset(i for i in eligible if stackable[i].coupon.type not in stackable[i].excluded_types)]
        for coupon_type in chosen_types:
            loners = [
                i
                for i in eligible
                if stackable[i].coupon.type == coupon_type and coupon_type in stackable[i].excluded_types
            ]
            variants += [
                frozenset(i for i in variant if stackable[i].coupon.type != coupon_type) | {loner}
                for variant in variants
                for loner in loners
            ]
        found.update(variants)
    kept: list[frozenset[int]] = []
    for group in sorted(found, key=len, reverse=True):
        if not any(group <= other for other in kept):
            kept.append(group)
    return [[stackable[i] for i in sorted(group)] for group in kept]


def _gifts(gifts: list[Assessment], position_of: dict[int, int]) -> list[Assessment]:
    """The gifts to take with a list's money coupons: gifts take no money, so every gift that shares may
    be taken, or else one that excludes its own type; the better (worth, then fewer, then earlier)."""
    shared = [a for a in gifts if not _loner(a)]
    options = [shared, *([a] for a in gifts if _loner(a))]

    def rank(option: list[Assessment]) -> tuple[Cents, int, tuple[int, ...]]:
        return (-sum(a.worth for a in option), len(option), tuple(position_of[id(a)] for a in option))

    return min(options, key=rank)


def best_choice(priced: PricedCart, usable: Sequence[Assessment]) -> list[Assessment]:
    """The combination of usable coupons with the largest benefit (money off + gift worth at menu
    price). Exact, the same answer as applying every allowed subset and keeping the best, within
    ``NODE_BUDGET`` nodes of search (every real wallet); past it, the best combination found so far.

    Ties go to fewer coupons, then to the coupons earliest in the stacking order (item-scoped first,
    cash before percentage before gift, then lower id), compared as sorted lists.

    Method. A coupon that does not stack can only be alone, so every coupon alone is an answer to
    beat. The stackable coupons are split into groups (``_type_sets``) such that every allowed
    combination lies in a group and any subset of a group is allowed but for one rule the search keeps:
    a coupon that excludes its own type is the only one of its type. In a group the gifts worth the most
    are taken (they take no money: every gift that shares, or one that excludes its own type), and the
    money coupons are searched depth first in the stacking order,
    taking a coupon before leaving it out. A node carries what is left of every line after the coupons
    taken so far, so extending a combination costs one allocation, and the benefit of every
    combination reached is exactly the one ``apply_coupons`` computes. A node is cut when
    - an upper bound of what the coupons not yet decided can still add cannot beat the best answer so
      far, ties included (``_Search._bound``: each coupon's take now, what is left of the bases and
      lines, and a relaxation in which cash shrinks the percentages after it, ``_Search._refined``);
    - or the same state (next coupon, what is left of every line, how each type is taken) was reached
      before by a combination at least as good: whatever follows adds the same to both.
    Groups are searched best-looking first and skipped when even the sum of their coupons' standalone
    benefits cannot win. The bounds rest on two facts, a coupon's take never grows when less of its
    base is left and coupons never take more than is left of the lines, plus the monotonicity argument
    in ``_refined``; no cut assumes that benefits add up, so caps, used-up bases and percentages after
    cash stay exact. The worst case is exponential, as for any exact search; on the benchmark's wallet
    (bench/engine.py: 200 coupons, 39 of them usable and stackable) it visits about 60 nodes.
    """
    ordered = sorted(usable, key=lambda a: a.order_key)
    position_of = {id(a): position for position, a in enumerate(ordered)}
    best = _Choice(0, ())
    for position, assessment in enumerate(ordered):
        choice = _Choice(assessment.alone, (position,))
        if choice.beats(best):
            best = choice

    left = [line.amount for line in priced.lines]
    stackable = [a for a in ordered if a.stackable]
    lone_by_type: dict[str, int] = {}
    for a in stackable:
        if _loner(a):
            lone_by_type[a.coupon.type] = lone_by_type.get(a.coupon.type, 0) + 1
    picks = 1
    for count in lone_by_type.values():
        picks *= count + 1
    groups = []
    for group in _choice_groups(stackable) if picks <= CHOICE_GROUPS_MAX else _type_sets(stackable):
        money = [a for a in group if a.gift is None]
        gifts = _gifts([a for a in group if a.gift is not None and a.worth > 0], position_of)
        groups.append((sum(a.alone for a in money) + sum(a.worth for a in gifts), money, gifts))
    groups.sort(key=lambda item: -item[0])
    budget = [NODE_BUDGET]
    for ceiling, money, gifts in groups:
        if ceiling < best.benefit:
            break
        if budget[0] < 0:
            break
        kinds = sorted({a.coupon.type for a in money})
        bases = sorted({a.base for a in money})
        candidates = [
            _Candidate(
                index=index,
                position=position_of[id(a)],
                phase=a.order_key[0],
                base=a.base,
                base_id=bases.index(a.base),
                cash=a.benefit if isinstance(a.benefit, CashOff) else None,
                percent=a.benefit if isinstance(a.benefit, PercentOff) else None,
                alone=a.take,
                kind=kinds.index(a.coupon.type),
                loner=_loner(a),
            )
            for index, a in enumerate(money)
        ]
        gift_positions = tuple(position_of[id(a)] for a in gifts)
        best = _Search(candidates, bases, gift_positions, sum(a.worth for a in gifts), left, best, budget).run()
    if budget[0] < 0:
        logger.warning(
            "best combination: search stopped after %s nodes (%s usable coupons); the best found is the answer",
            NODE_BUDGET,
            len(ordered),
        )
    return [ordered[position] for position in best.positions]


def preview(cart: Cart, coupons: Sequence[Coupon], ctx: Context) -> Preview:
    """Every coupon on its own (input order) and the best combination, checking each coupon once.
    Coupon ids must be distinct (a wallet holds each coupon once)."""
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
