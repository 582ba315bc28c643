"""Checking coupons against a cart and applying a combination of them in the stacking order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from coupons.engine.allocation import allocate
from coupons.engine.cart import PricedCart
from coupons.engine.codes import ReasonCode
from coupons.engine.definition import Definition, DefinitionError, read_stored_definition
from coupons.engine.kinds import Benefit, GiftItem
from coupons.engine.money import Cents, from_cents, to_cents
from coupons.engine.params import ParamError
from coupons.engine.rules import Rule, Situation
from coupons.engine.types import (
    Application,
    Cart,
    Context,
    Coupon,
    CouponEvaluation,
    CouponResult,
    Gift,
    Reason,
)

_MOMENT_FORMAT = "%Y-%m-%d %H:%M"


@dataclass
class Assessment:
    """One coupon checked against the cart on its own: its reasons, its base, what it gives alone."""

    coupon: Coupon
    definition: Definition | None = None
    benefit: Benefit | None = None
    reasons: list[Reason] = field(default_factory=list)
    base: tuple[int, ...] = ()
    gift: Gift | None = None
    take: Cents = 0  # money taken when applied alone
    worth: Cents = 0  # the gift's worth at menu price
    stackable: bool = False
    excluded_types: frozenset[str] = frozenset()

    @property
    def usable(self) -> bool:
        return not self.reasons

    @property
    def alone(self) -> Cents:
        """Its benefit on its own: money taken plus gift worth."""
        return self.take + self.worth

    @property
    def order_key(self) -> tuple[int, int, int]:
        """Stacking order: item-scoped before order-wide, cash before percentage (gifts last,
        they take no money), then the coupon id."""
        assert self.definition is not None and self.benefit is not None
        return (0 if self.definition.item_scoped else 1, self.benefit.rank, self.coupon.id)


@dataclass(frozen=True)
class _Base:
    indices: tuple[int, ...]
    subtotal: Cents  # at menu prices
    empty_reason: Reason | None
    situation: Situation  # what the coupon's conditions are checked against


def _narrow(priced: PricedCart, rules: tuple[Rule, ...], local_now: datetime, channel: str) -> _Base:
    lines = priced.lines
    empty_reason = None
    for rule in rules:
        lines = tuple(line for line in lines if rule.keeps(line))
        if not lines:
            empty_reason = rule.empty_base_reason() if priced.lines else None
            break
    subtotal = sum(line.amount for line in lines)
    situation = Situation(priced.lines, priced.skus, priced.categories, subtotal, local_now, channel)
    return _Base(tuple(line.index for line in lines), subtotal, empty_reason, situation)


def assess(
    priced: PricedCart, coupon: Coupon, ctx: Context, bases: dict[tuple[Rule, ...], _Base] | None = None
) -> Assessment:
    """Every check of one coupon on its own: definition, validity, gift, base, rules, benefit.
    ``bases`` keeps the discount bases already worked out for this cart and context, by the rules that
    narrow them."""
    assessment = Assessment(coupon)
    reasons = assessment.reasons
    try:
        definition = read_stored_definition(coupon.type, coupon.value, coupon.usage_rules)
        benefit = definition.kind.benefit(coupon)
    except DefinitionError as error:
        reasons.append(
            Reason(ReasonCode.INVALID_DEFINITION, {"problems": [f"{p.field}:{p.code}" for p in error.problems]})
        )
        return assessment
    except ParamError as error:
        problems = [f"{issue.params.get('key', '')}:{issue.code}" for issue in error.issues]
        reasons.append(Reason(ReasonCode.INVALID_DEFINITION, {"problems": problems}))
        return assessment
    assessment.definition, assessment.benefit = definition, benefit
    if definition.stack_policy is not None:
        assessment.stackable = definition.stack_policy.allow_stacking
        assessment.excluded_types = definition.stack_policy.exclude_coupon_types

    if not priced.lines:
        reasons.append(Reason(ReasonCode.EMPTY_CART))
    if coupon.expires_at is not None and ctx.now >= coupon.expires_at:
        expired = coupon.expires_at.astimezone(ctx.tz).strftime(_MOMENT_FORMAT)
        reasons.append(Reason(ReasonCode.EXPIRED, {"expires_at": expired}))
    if coupon.valid_from is not None and ctx.now < coupon.valid_from:
        starts = coupon.valid_from.astimezone(ctx.tz).strftime(_MOMENT_FORMAT)
        reasons.append(Reason(ReasonCode.NOT_YET_VALID, {"valid_from": starts}))
    if isinstance(benefit, GiftItem):
        if coupon.gift is None:
            reasons.append(Reason(ReasonCode.GIFT_UNAVAILABLE, {"sku": benefit.sku}))
        else:
            product = coupon.gift
            assessment.gift = Gift(product.sku, product.name, benefit.quantity, product.unit_price)
            assessment.worth = to_cents(assessment.gift.worth)

    narrowing = definition.base_rules
    base = bases.get(narrowing) if bases is not None else None
    if base is None:
        base = _narrow(priced, narrowing, ctx.now.astimezone(ctx.tz), ctx.channel)
        if bases is not None:
            bases[narrowing] = base
    if base.empty_reason is not None:
        reasons.append(base.empty_reason)
    assessment.base = base.indices
    base_subtotal = base.subtotal

    situation = base.situation
    for rule in definition.rules:
        reason = rule.check(situation)
        if reason is not None:
            reasons.append(reason)

    if not reasons and not isinstance(benefit, GiftItem):
        assessment.take = benefit.take(base_subtotal)
        if assessment.take == 0:
            reasons.append(Reason(ReasonCode.NO_BENEFIT))
    return assessment


def assess_all(priced: PricedCart, coupons: Sequence[Coupon], ctx: Context) -> list[Assessment]:
    bases: dict[tuple[Rule, ...], _Base] = {}
    return [assess(priced, coupon, ctx, bases) for coupon in coupons]


def evaluation_of(priced: PricedCart, assessment: Assessment) -> CouponEvaluation:
    """The standalone figures the checkout preview shows for one coupon."""
    usable = assessment.usable
    shares = allocate(assessment.take, assessment.base, priced.amounts) if usable else []
    return CouponEvaluation(
        coupon_id=assessment.coupon.id,
        usable=usable,
        reasons=tuple(assessment.reasons),
        discount=from_cents(assessment.take if usable else 0),
        allocation={priced.lines[i].ref: from_cents(cents) for i, cents in shares},
        gifts=(assessment.gift,) if usable and assessment.gift else (),
    )


def combination_reasons(chosen: Sequence[Assessment]) -> dict[int, list[Reason]]:
    """Why these coupons may not be used together, per offending coupon id."""
    found: dict[int, list[Reason]] = {}
    if len(chosen) < 2:
        return found
    for this in chosen:
        others = [other for other in chosen if other is not this]
        if not this.stackable:
            loners = others
        else:
            loners = [other for other in others if not other.stackable]
        if loners:
            ids = sorted(other.coupon.id for other in loners)
            found.setdefault(this.coupon.id, []).append(Reason(ReasonCode.NOT_STACKABLE, {"coupon_ids": ids}))
            continue
        # Exclusions hold whichever side names the other's type.
        clashes = [
            other
            for other in others
            if other.coupon.type in this.excluded_types or this.coupon.type in other.excluded_types
        ]
        if clashes:
            params = {
                "coupon_ids": sorted(other.coupon.id for other in clashes),
                "coupon_types": sorted({other.coupon.type for other in clashes}),
            }
            found.setdefault(this.coupon.id, []).append(Reason(ReasonCode.EXCLUDED_COUPON_TYPE, params))
    return found


def _refused(priced: PricedCart, refused: dict[int, list[Reason]]) -> Application:
    subtotal = from_cents(priced.subtotal)
    return Application(
        ok=False,
        coupons=(),
        subtotal=subtotal,
        discount_total=from_cents(0),
        total=subtotal,
        gifts=(),
        line_discounts={line.ref: from_cents(0) for line in priced.lines},
        refused={coupon_id: tuple(reasons) for coupon_id, reasons in refused.items()},
    )


def apply_assessed(
    priced: PricedCart, chosen: Sequence[Assessment], refused: dict[int, list[Reason]] | None = None
) -> Application:
    """Apply coupons already assessed: refuse the combination (adding to ``refused``), or apply each
    coupon in the stacking order on what is left of its base."""
    refused = {} if refused is None else refused
    for assessment in chosen:
        if not assessment.usable:
            refused.setdefault(assessment.coupon.id, []).extend(assessment.reasons)
    for coupon_id, reasons in combination_reasons(chosen).items():
        refused.setdefault(coupon_id, []).extend(reasons)
    if refused:
        return _refused(priced, refused)

    left = [line.amount for line in priced.lines]
    results: list[CouponResult] = []
    gifts: list[Gift] = []
    for assessment in sorted(chosen, key=lambda a: a.order_key):
        assert assessment.benefit is not None
        take = assessment.benefit.take(sum(left[i] for i in assessment.base))
        if take == 0 and assessment.gift is None:
            refused[assessment.coupon.id] = [Reason(ReasonCode.NO_BENEFIT)]
            continue
        shares = allocate(take, assessment.base, left)
        for i, cents in shares:
            left[i] -= cents
        coupon_gifts = (assessment.gift,) if assessment.gift else ()
        gifts.extend(coupon_gifts)
        results.append(
            CouponResult(
                coupon_id=assessment.coupon.id,
                coupon_type=assessment.coupon.type,
                discount=from_cents(take),
                allocation={priced.lines[i].ref: from_cents(cents) for i, cents in shares},
                gifts=coupon_gifts,
            )
        )
    if refused:
        return _refused(priced, refused)
    discount_total = priced.subtotal - sum(left)
    return Application(
        ok=True,
        coupons=tuple(results),
        subtotal=from_cents(priced.subtotal),
        discount_total=from_cents(discount_total),
        total=from_cents(sum(left)),
        gifts=tuple(gifts),
        line_discounts={line.ref: from_cents(line.amount - left[line.index]) for line in priced.lines},
        refused={},
    )


def evaluate(cart: Cart, coupons: Sequence[Coupon], ctx: Context) -> list[CouponEvaluation]:
    """Each coupon on its own, in input order: usable or not, why not, its discount, allocation, gifts."""
    priced = PricedCart.of(cart)
    return [evaluation_of(priced, assessment) for assessment in assess_all(priced, coupons, ctx)]


def apply_coupons(cart: Cart, coupons: Sequence[Coupon], ctx: Context) -> Application:
    """Apply the coupons a customer chose. A coupon chosen twice, unusable, not allowed with the others
    or taking nothing makes the whole choice refused, with the reasons per offending coupon."""
    priced = PricedCart.of(cart)
    seen: set[int] = set()
    unique: list[Coupon] = []
    duplicates: dict[int, list[Reason]] = {}
    for coupon in coupons:
        if coupon.id in seen:
            duplicates[coupon.id] = [Reason(ReasonCode.DUPLICATE_COUPON)]
        else:
            seen.add(coupon.id)
            unique.append(coupon)
    return apply_assessed(priced, assess_all(priced, unique, ctx), duplicates)
