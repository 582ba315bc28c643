"""Gift packs (礼包): a pack is given to a user exactly once per occasion.

"Exactly once" is the unique key (pack, user, occasion) of ``GiftPackGrant``, inserted first in the
transaction that issues the coupons: a second call for the same occasion, concurrent or later, finds
the key taken and issues nothing.

Pack coupons bypass the claim center's visibility and ``target`` (the business gives them), but respect
each template's stock and ``per_user_limit``: a user never holds more of a
template than its limit, whatever the source. A pack meant to be given again and again (birthdays)
therefore uses templates whose limit allows it (0 = unlimited). An item refused for stock, limit or a
template that no longer issues is skipped and recorded on ``GiftPackGrant.skipped``; the other items
are still given, and the event that fired the pack (a registration, say) never fails because of it.

A bulk grant reads its pack's items when it runs, so a pack stays as Finance saw it while a bulk grant
that hands it out is under review, approved or running (``gift_pack_lock_for_change``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.db import retry_on_conflict
from core.errors import Conflict, InvalidTransition
from coupons.errors import CouponErrorCode
from coupons.ledger import issue_coupons, with_fresh_codes
from coupons.models import CouponSource, UserCoupon
from marketing.models import BulkGrant, BulkGrantStatus, GiftPack, GiftPackGrant, GiftPackItem
from marketing.notifications import notify_coupons_granted

logger = logging.getLogger(__name__)


def grant_pack(*, user: Any, pack: GiftPack, occasion: str) -> GiftPackGrant | None:
    """Give ``pack`` to ``user`` for ``occasion`` unless it was given already.

    Returns the new grant, or None when the pack was already given for this occasion or is inactive.
    """
    if not pack.is_active:
        return None
    grant, created = with_fresh_codes(lambda: pack_grant_in_transaction(user_id=user.pk, pack=pack, occasion=occasion))
    return grant if created else None


@retry_on_conflict
def pack_grant_in_transaction(
    *, user_id: int, pack: GiftPack, occasion: str, notify: bool = True
) -> tuple[GiftPackGrant, bool]:
    """The grant itself; also usable inside a larger transaction (a bulk grant's chunk)."""
    occasion = occasion[:64]
    try:
        with transaction.atomic():
            grant = GiftPackGrant.objects.create(pack=pack, user_id=user_id, occasion=occasion)
    except IntegrityError:
        existing = GiftPackGrant.objects.filter(pack=pack, user_id=user_id, occasion=occasion).first()
        if existing is None:
            raise
        return existing, False
    now = timezone.now()
    coupons: list[UserCoupon] = []
    skipped: list[dict[str, Any]] = []
    # Templates in primary-key order: the lock order of every multi-template transaction.
    for item in sorted(GiftPackItem.objects.filter(pack=pack).select_related("template"), key=_lock_order):
        try:
            with transaction.atomic():
                coupons += _issue_item(item, user_id, pack, now)
        except Conflict as exc:
            skipped.append(
                {"item_id": item.pk, "template_id": item.template_id, "quantity": item.quantity, "reason": exc.code}
            )
    grant.granted = len(coupons)
    grant.skipped = skipped
    grant.save(update_fields=["granted", "skipped"])
    if skipped:
        logger.info("gift pack %s to user %s (%s): skipped %s", pack.pk, user_id, occasion, skipped)
    if notify and coupons:
        notify_coupons_granted(
            user_id=user_id,
            coupons=coupons,
            dedupe_key=f"pack-grant:{grant.pk}",
            extra={"gift_pack_id": pack.pk, "occasion": occasion},
        )
    return grant, True


def _lock_order(item: GiftPackItem) -> tuple[int, int]:
    return item.template_id, item.pk


def _issue_item(item: GiftPackItem, user_id: int, pack: GiftPack, now: Any) -> list[UserCoupon]:
    return issue_coupons(
        template=item.template,
        user_id=user_id,
        quantity=item.quantity,
        source=CouponSource.GIFT_PACK,
        source_ref=str(pack.pk),
        now=now,
    )


def fire_trigger(*, user: Any, trigger: str, occasion: str) -> list[GiftPackGrant]:
    """Give every active pack of ``trigger`` to ``user`` for ``occasion`` (each at most once)."""
    grants = []
    for pack in GiftPack.objects.filter(trigger=trigger, is_active=True).order_by("pk"):
        grant = grant_pack(user=user, pack=pack, occasion=occasion)
        if grant is not None:
            grants.append(grant)
    return grants


# Changing a pack ---------------------------------------------------------------------------------

# A bulk grant in these states has yet to read its pack's items, or is reading them.
PACK_READING_STATES = (BulkGrantStatus.PENDING_REVIEW, BulkGrantStatus.APPROVED, BulkGrantStatus.RUNNING)


def bulk_grants_holding_pack(*, pack: GiftPack) -> QuerySet[BulkGrant]:
    """The bulk grants that hand ``pack`` out and are under review, approved (scheduled) or running."""
    return BulkGrant.objects.filter(gift_pack_id=pack.pk, status__in=PACK_READING_STATES).order_by("pk")


def pack_held_message(grants: list[BulkGrant]) -> str:
    return _(
        "This gift pack cannot be changed while a bulk grant that hands it out is pending review, approved "
        "or running: %(grants)s."
    ) % {"grants": ", ".join(grant.name for grant in grants)}


def gift_pack_lock(*, pack_id: int) -> None:
    """Lock the pack's row until the transaction ends. A change of the pack and the submission of a bulk
    grant that hands it out both take it, so they take turns: the grant goes to review with the pack
    as it was saved, or the change sees the grant under review and is refused."""
    list(GiftPack.objects.select_for_update().filter(pk=pack_id).values_list("pk", flat=True))


def gift_pack_lock_for_change(*, pack: GiftPack) -> None:
    """Called in the transaction that changes ``pack`` or its items, before it writes: refuses the change
    while a bulk grant that hands the pack out is under review, approved or running (Finance approved the
    pack as it stands, and the run reads its items when it executes)."""
    gift_pack_lock(pack_id=pack.pk)
    grants = list(bulk_grants_holding_pack(pack=pack))
    if grants:
        raise InvalidTransition(
            pack_held_message(grants),
            code=CouponErrorCode.NOT_EDITABLE,
            details={"bulk_grant_ids": [grant.pk for grant in grants]},
        )
