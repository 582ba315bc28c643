"""Checkout: pricing a cart with the customer's coupons (preview) and placing the order.

Both price through ``orders.pricing`` and the engine with the same inputs, so the preview shows what
the order will charge. Placing an order is one transaction: the chosen coupons are locked
(``SELECT ... FOR UPDATE`` in primary-key order), re-checked by the engine against the clock of the
transaction, and become LOCKED with the order; line prices come from the menu, never from the client.

Cart rules: 1 to ``MAX_LINES`` lines, quantities 1 to ``MAX_LINE_QUANTITY``; a sku given on several
lines is merged into one line (quantities added, first position kept) and the merged quantity must
stay within the cap; unknown or inactive skus are refused (400 ``UNKNOWN_SKU``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.db import retry_on_conflict
from core.errors import NotFound, ValidationFailed
from coupons.engine import Application, Reason, apply_coupons, best_combination, preview, to_money
from coupons.ledger import coupons_lock_for_order
from coupons.models import CouponStatus, UserCoupon
from orders.errors import CartTooLarge, CouponNotUsable, UnknownSku
from orders.models import Order, OrderCoupon, OrderLine, OrderStatus
from orders.pricing import (
    HeldCoupon,
    MenuProduct,
    engine_cart,
    engine_coupon,
    engine_coupons,
    gift_skus,
    pricing_context,
    reason_payload,
    status_reason,
)
from orders.selectors import checkout_coupons_for, checkout_wallet, chosen_coupons_for, orderable_products

MAX_LINES = 100
MAX_LINE_QUANTITY = 999
MAX_COUPONS_CHOSEN = 50
# Orders are priced in DECIMAL(12, 2) columns; a cart above this is refused rather than overflowing.
MAX_SUBTOTAL = Decimal("1000000.00")
ZERO = Decimal("0.00")
UNUSED = CouponStatus.UNUSED.value  # compared with each coupon of a wallet: the plain string


@dataclass(frozen=True)
class CartItem:
    sku: str
    quantity: int


@dataclass(frozen=True)
class PricedLine:
    product: MenuProduct
    quantity: int

    @property
    def line_subtotal(self) -> Decimal:
        return to_money(self.product.price * self.quantity)


class CouponOption(NamedTuple):
    """One coupon of the customer on its own against the cart (a preview lists hundreds: a named tuple
    is the cheapest to build)."""

    coupon: HeldCoupon
    usable: bool
    discount: Decimal
    gift_worth: Decimal
    gifts: tuple[Any, ...]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class CheckoutPreview:
    lines: tuple[PricedLine, ...]
    subtotal: Decimal
    best: Application
    coupons: tuple[CouponOption, ...]
    # With chosen coupons: that choice applied, or refused with reasons per coupon.
    applied: Application | None
    chosen_ids: tuple[int, ...] | None


# Input ------------------------------------------------------------------------------------------


def cart_items(lines: Iterable[Mapping[str, Any] | CartItem]) -> list[CartItem]:
    """Check the cart's shape and merge repeated skus (first position kept)."""
    merged: dict[str, int] = {}
    count = 0
    for line in lines:
        count += 1
        sku, quantity = (line.sku, line.quantity) if isinstance(line, CartItem) else (line["sku"], line["quantity"])
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise ValidationFailed(
                _("Each quantity must be a whole number of at least 1."), details={"lines": [_("Invalid quantity.")]}
            )
        merged[sku] = merged.get(sku, 0) + quantity
    if count == 0:
        raise ValidationFailed(_("The cart is empty."), details={"lines": [_("Add at least one dish.")]})
    if count > MAX_LINES:
        message = _("At most %(max)s lines per order.") % {"max": MAX_LINES}
        raise CartTooLarge(message, details={"lines": [message]})
    too_many = sorted(sku for sku, quantity in merged.items() if quantity > MAX_LINE_QUANTITY)
    if too_many:
        message = _("At most %(max)s of one dish per order.") % {"max": MAX_LINE_QUANTITY}
        raise CartTooLarge(message, details={"lines": [message], "skus": too_many})
    return [CartItem(sku, quantity) for sku, quantity in merged.items()]


def chosen_coupon_ids(coupon_ids: Iterable[int] | None) -> tuple[int, ...] | None:
    if coupon_ids is None:
        return None
    ids = tuple(coupon_ids)
    if len(set(ids)) != len(ids):
        message = _("A coupon is listed more than once.")
        raise ValidationFailed(message, details={"coupon_ids": [message]})
    if len(ids) > MAX_COUPONS_CHOSEN:
        message = _("At most %(max)s coupons per order.") % {"max": MAX_COUPONS_CHOSEN}
        raise ValidationFailed(message, details={"coupon_ids": [message]})
    return ids


def _priced_lines(items: Sequence[CartItem], products: Mapping[str, MenuProduct]) -> tuple[PricedLine, ...]:
    unknown = [item.sku for item in items if item.sku not in products]
    if unknown:
        raise UnknownSku(
            _("These dishes are not on the menu: %(skus)s") % {"skus": ", ".join(unknown)},
            details={"skus": unknown},
        )
    lines = tuple(PricedLine(products[item.sku], item.quantity) for item in items)
    if sum((line.line_subtotal for line in lines), ZERO) > MAX_SUBTOTAL:
        message = _("An order may not exceed %(max)s.") % {"max": MAX_SUBTOTAL}
        raise CartTooLarge(message, details={"lines": [message]})
    return lines


def _missing_coupons(ids: Sequence[int], found: Iterable[HeldCoupon]) -> NotFound | None:
    # Unknown ids and other customers' ids get the same answer: nothing tells them apart.
    missing = sorted(set(ids) - {coupon.pk for coupon in found})
    if not missing:
        return None
    return NotFound(_("Coupon not found."), details={"coupon_ids": missing})


def refusal_details(refused: Mapping[int, Sequence[Reason]]) -> dict[str, Any]:
    return {
        "coupons": [
            {"id": coupon_id, "reasons": [reason_payload(reason) for reason in reasons]}
            for coupon_id, reasons in sorted(refused.items())
        ]
    }


def _refused(subtotal: Decimal, line_refs: Iterable[str], refused: Mapping[int, Sequence[Reason]]) -> Application:
    return Application(
        ok=False,
        coupons=(),
        subtotal=subtotal,
        discount_total=ZERO,
        total=subtotal,
        gifts=(),
        line_discounts={ref: ZERO for ref in line_refs},
        refused={coupon_id: tuple(reasons) for coupon_id, reasons in refused.items()},
    )


def _apply_choice(
    lines: tuple[PricedLine, ...], chosen: Sequence[HeldCoupon], products: Mapping[str, MenuProduct], channel: str, now
) -> Application:
    """The engine's ``apply_coupons`` on the chosen coupons, refusing those that are not UNUSED
    (LOCKED, USED, REVOKED, EXPIRED) before the engine sees them."""
    cart = engine_cart(lines=[(line.product, line.quantity) for line in lines])
    held = {coupon.pk: (reason,) for coupon in chosen if (reason := status_reason(coupon)) is not None}
    unused = [engine_coupon(coupon, products=products) for coupon in chosen if coupon.pk not in held]
    application = apply_coupons(cart, unused, pricing_context(channel=channel, now=now))
    if not held:
        return application
    refused = {**held, **{k: tuple(v) for k, v in application.refused.items()}}
    return _refused(cart.subtotal, [line.product.sku for line in lines], refused)


# Preview ----------------------------------------------------------------------------------------


def checkout_preview(
    *,
    user: Any,
    lines: Iterable[Mapping[str, Any] | CartItem],
    channel: str,
    coupon_ids: Iterable[int] | None = None,
) -> CheckoutPreview:
    """Price a cart with the customer's coupons: each UNUSED coupon on its own (usable or why not),
    the best combination, and with ``coupon_ids`` that choice. One query, the coupons with the stamps
    of the menu and of the templates, once this process has read (and kept under those stamps) the
    templates and the menu products of the cart and of the gifts; one query more for each when not.
    Changes nothing.

    Raises ``ValidationFailed`` (bad cart), ``UnknownSku`` and ``NotFound`` (a chosen coupon that is
    not the customer's).
    """
    items = cart_items(lines)
    ids = chosen_coupon_ids(coupon_ids)
    wallet = checkout_wallet(user=user, coupon_ids=ids or ())
    held = wallet.coupons
    if ids:
        missing = _missing_coupons(ids, held)
        if missing is not None:
            raise missing
    unused = [coupon for coupon in held if coupon.status == UNUSED]
    products = orderable_products(skus=[item.sku for item in items] + sorted(gift_skus(held)), menu=wallet.menu)
    priced = _priced_lines(items, products)
    now = timezone.now()
    cart = engine_cart(lines=[(line.product, line.quantity) for line in priced])
    result = preview(cart, engine_coupons(unused, products=products), pricing_context(channel=channel, now=now))

    options = []
    for coupon, evaluation in zip(unused, result.evaluations, strict=True):
        gifts = evaluation.gifts
        gift_worth = to_money(sum((gift.worth for gift in gifts), ZERO)) if gifts else ZERO
        options.append(
            CouponOption(coupon, evaluation.usable, evaluation.discount, gift_worth, gifts, evaluation.reasons)
        )
    # Usable first, the most valuable first; then the soonest to expire.
    options.sort(key=lambda o: (not o.usable, -(o.discount + o.gift_worth), o.coupon.expires_at, o.coupon.pk))

    applied = None
    if ids is not None:
        by_id = {coupon.pk: coupon for coupon in held}
        applied = _apply_choice(priced, [by_id[i] for i in ids], products, channel, now)
    return CheckoutPreview(
        lines=priced,
        subtotal=result.best.subtotal,  # the engine's, of this very cart: what the order charges
        best=result.best,
        coupons=tuple(options),
        applied=applied,
        chosen_ids=ids,
    )


# Placing an order -------------------------------------------------------------------------------


def order_place(
    *,
    user: Any,
    lines: Iterable[Mapping[str, Any] | CartItem],
    channel: str,
    coupon_ids: Iterable[int] | None = None,
    auto_coupons: bool = False,
) -> Order:
    """Place an order: PENDING_PAYMENT, its coupons LOCKED to it, template counters updated.

    With ``coupon_ids`` those coupons are re-checked under lock and applied (any failing one refuses
    the whole order: 409 ``COUPON_NOT_USABLE`` with the reasons per coupon); with ``auto_coupons`` the
    engine's best combination of the customer's coupons is applied. Deadlocks are retried.
    """
    items = cart_items(lines)
    ids = chosen_coupon_ids(coupon_ids) or ()
    if auto_coupons and ids:
        message = _("Choose coupons or ask for the best ones, not both.")
        raise ValidationFailed(message, details={"auto_coupons": [message]})
    return _place(user, items, channel, ids, auto_coupons)


@retry_on_conflict
def _place(user: Any, items: list[CartItem], channel: str, ids: tuple[int, ...], auto: bool) -> Order:
    now = timezone.now()
    # Read without locks first: ownership (404 before anything is locked), templates (an approved
    # template's definition never changes, so this copy is the definition) and the gift dishes.
    if auto:
        candidates = [
            c
            for c in checkout_coupons_for(user=user)
            if c.status == CouponStatus.UNUSED and c.valid_from <= now < c.expires_at
        ]
    else:
        candidates = chosen_coupons_for(user=user, coupon_ids=ids)
        missing = _missing_coupons(ids, candidates)
        if missing is not None:
            raise missing
    products = orderable_products(skus=[item.sku for item in items] + sorted(gift_skus(candidates)))
    priced = _priced_lines(items, products)

    # The coupon rows, locked in primary-key order (a PRIMARY range scan: rows are locked as read);
    # what may have changed since the read above is taken from the locked rows.
    by_id = {c.pk: c for c in candidates}
    rows = (
        UserCoupon.objects.select_for_update()
        .filter(pk__in=list(by_id))
        .order_by("pk")
        .values_list("id", "user_id", "status", "valid_from", "expires_at", "amount")
    )
    locked = {
        pk: _as_locked(by_id[pk], status, valid_from, expires_at, amount)
        for pk, user_id, status, valid_from, expires_at, amount in rows
        if user_id == user.pk
    }

    # The clock of the re-check is read once the rows are ours: a coupon that expired while this
    # transaction waited for its lock is refused.
    now = timezone.now()
    if auto:
        usable = [c for c in locked.values() if c.status == CouponStatus.UNUSED]
        cart = engine_cart(lines=[(line.product, line.quantity) for line in priced])
        application = best_combination(
            cart, engine_coupons(usable, products=products), pricing_context(channel=channel, now=now)
        )
    else:
        gone = _missing_coupons(ids, locked.values())  # deleted since the read above
        if gone is not None:
            raise gone
        application = _apply_choice(priced, [locked[i] for i in ids], products, channel, now)
        if not application.ok:
            raise CouponNotUsable(
                _("A chosen coupon cannot be used with this order."), details=refusal_details(application.refused)
            )

    order = _write_order(user, channel, priced, application, products, locked, now)
    audit_record(
        subject=order,
        actor=user,
        action="place",
        to_status=OrderStatus.PENDING_PAYMENT,
        data={
            "coupon_ids": list(application.coupon_ids),
            "auto_coupons": auto,
            "subtotal": str(order.subtotal),
            "discount_total": str(order.discount_total),
            "total": str(order.total),
        },
    )
    return order


def _as_locked(coupon: HeldCoupon, status: str, valid_from, expires_at, amount) -> HeldCoupon:
    # The coupon read before as it is under lock; unchanged, the same HeldCoupon, whose engine Coupon
    # orders.pricing keeps.
    if (coupon.status, coupon.valid_from, coupon.expires_at, coupon.amount) == (status, valid_from, expires_at, amount):
        return coupon
    return coupon._replace(status=status, valid_from=valid_from, expires_at=expires_at, amount=amount)


def _write_order(
    user: Any,
    channel: str,
    priced: tuple[PricedLine, ...],
    application: Application,
    products: Mapping[str, MenuProduct],
    locked: Mapping[int, HeldCoupon],
    now,
) -> Order:
    order = Order.objects.create(
        user=user,
        status=OrderStatus.PENDING_PAYMENT,
        channel=channel,
        subtotal=application.subtotal,
        discount_total=application.discount_total,
        total=application.total,
    )
    rows = [
        OrderLine(
            order=order,
            product_id=line.product.id,
            sku=line.product.sku,
            name=line.product.name,
            category_code=line.product.category_code,
            unit_price=line.product.price,
            quantity=line.quantity,
            line_subtotal=line.line_subtotal,
            discount=application.line_discounts[line.product.sku],
        )
        for line in priced
    ]
    applied = []
    for result in application.coupons:
        for gift in result.gifts:
            product = products[gift.sku]
            rows.append(
                OrderLine(
                    order=order,
                    product_id=product.id,
                    sku=product.sku,
                    name=product.name,
                    category_code=product.category_code,
                    unit_price=ZERO,
                    quantity=gift.quantity,
                    line_subtotal=ZERO,
                    discount=ZERO,
                    is_gift=True,
                    gift_coupon_id=result.coupon_id,
                )
            )
        applied.append(
            OrderCoupon(
                order=order,
                coupon_id=result.coupon_id,
                discount=result.discount,
                gift_worth=to_money(sum((gift.worth for gift in result.gifts), ZERO)),
                allocation={ref: str(amount) for ref, amount in result.allocation.items()},
            )
        )
    OrderLine.objects.bulk_create(rows)
    if applied:
        OrderCoupon.objects.bulk_create(applied)
        coupons_lock_for_order(
            order_id=order.pk,
            template_of={result.coupon_id: locked[result.coupon_id].template_id for result in application.coupons},
            now=now,
        )
    return order
