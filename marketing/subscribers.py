"""What marketing does when the layers below state a fact (``core.events``), and the member facts it
provides to them (``core.members``); connected in ``MarketingConfig.ready``.

- ``ORDER_PAID``: the member's last order time (in the payment's transaction); on the customer's first
  paid order, the FIRST_ORDER_PAID gift pack (after commit).
- ``COUPON_ISSUED`` by a staff member's grant: the customer's "you received a coupon" message, an
  outbox row written in the grant's transaction. Gift packs and bulk grants write their own messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.events import Event, subscribe
from core.members import register_audience_counter, register_member_source, register_tag_lister
from coupons.models import CouponSource, CouponTemplate
from marketing.models import MemberProfile
from marketing.notifications import notify_coupons_issued
from marketing.selectors import member_facts, member_tag_names, target_audience_size
from marketing.triggers import on_first_order_paid

# Subscribers read the payload fields they need and ignore the rest (an event may gain fields).


def record_last_order(*, event: Event, **payload: Any) -> None:
    if "paid_at" in payload:
        MemberProfile.objects.filter(user_id=payload["user_id"]).update(
            last_order_at=datetime.fromisoformat(payload["paid_at"])
        )


def first_order_pack(*, event: Event, **payload: Any) -> None:
    if payload.get("first_paid_order"):
        on_first_order_paid(user_id=payload["user_id"], order_id=payload["order_id"])


def tell_granted_customer(*, event: Event, **payload: Any) -> None:
    if payload.get("source") != CouponSource.ADMIN:
        return
    template_id, coupon_ids = payload["template_id"], payload["coupon_ids"]
    name = CouponTemplate.objects.filter(pk=template_id).values_list("name", flat=True).get()
    for user_id in payload["user_ids"]:
        notify_coupons_issued(user_id=user_id, template_id=template_id, template_name=name, coupon_ids=coupon_ids)


def connect() -> None:
    register_member_source(member_facts)
    register_audience_counter(target_audience_size)
    register_tag_lister(member_tag_names)
    subscribe(Event.ORDER_PAID, record_last_order, uid="marketing.last_order", in_transaction=True)
    # In the payment's transaction: the occasion is written down with the payment (``marketing.triggers``).
    subscribe(
        Event.ORDER_PAID,
        first_order_pack,
        uid="marketing.first_order_pack",
        in_transaction=True,
        wants=lambda event, facts: bool(facts.get("first_paid_order")),
    )
    subscribe(
        Event.COUPON_ISSUED,
        tell_granted_customer,
        uid="marketing.granted_message",
        in_transaction=True,
        wants=lambda event, facts: facts.get("source") == CouponSource.ADMIN,
    )
