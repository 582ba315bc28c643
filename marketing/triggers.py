"""Where business events meet gift packs. Each function is safe to call more than once.

An occasion is first written down (``PendingTrigger``) inside the caller's transaction, so it exists
exactly when the fact it stands for commits (an order paid inside a transaction gives its pack only if the
payment commits). After the commit it is fired at once. A process that dies in between, or a firing that
fails (the database unreachable), leaves the row to the every-minute job (``pending_triggers_fire``), which
fires it again, later each time it fails; the event itself never fails. The ``GiftPackGrant`` key keeps
every pack to once per user and occasion, however often an occasion is fired.

Occasions (the "exactly once per user and occasion" key):
- REGISTER: ``register``; INVITE_INVITEE: ``invitee`` (a user registers once);
- INVITE_INVITER: ``invitee:<new user id>`` (once per friend invited);
- FIRST_ORDER_PAID: ``first-order`` (once per user, whichever order the caller reports);
- BIRTHDAY: ``birthday:<year>``; MEMBER_LEVEL_UP: ``level:<level>``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from marketing.models import GiftPackTrigger, PendingTrigger
from marketing.services import gift_packs

logger = logging.getLogger(__name__)

# How long the after-commit firing has before the job fires a written-down occasion itself, and how long
# the job waits after each failure (doubling, at most MAX_RETRY_DELAY).
RETRY_DELAY = timedelta(seconds=60)
MAX_RETRY_DELAY = timedelta(hours=1)
OCCASION_LENGTH = 64  # GiftPackGrant.occasion
_MAX_DOUBLINGS = 16  # far past MAX_RETRY_DELAY: 60 s x 2**16 is 45 days


def fire_now(*, user_id: int, trigger: str, occasion: str) -> int:
    """Fire ``trigger`` for a user now; returns how many packs were newly given. A customer whose account
    was closed (deactivated) since, or a staff member, is given nothing, as segments and user lists leave
    them out (the occasion is struck off all the same)."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True, is_staff=False).first()
    if user is None:
        return 0
    return len(gift_packs.fire_trigger(user=user, trigger=trigger, occasion=occasion))


def record(occasions: Iterable[tuple[int, str, str]], *, now: datetime | None = None, fire: bool = True) -> None:
    """Write down ``(user_id, trigger, occasion)`` occasions in the caller's transaction and, with ``fire``,
    fire them after its commit; an occasion written down already (still pending) is not written twice."""
    due = (now or timezone.now()) + RETRY_DELAY
    rows = [
        PendingTrigger(user_id=user_id, trigger=trigger, occasion=occasion[:OCCASION_LENGTH], due_at=due)
        for user_id, trigger, occasion in occasions
    ]
    if not rows:
        return
    PendingTrigger.objects.bulk_create(rows, ignore_conflicts=True)
    if not fire:
        return
    keys = [(row.user_id, row.trigger, row.occasion) for row in rows]
    transaction.on_commit(lambda: _fire_all(keys))


def _fire_all(keys: list[tuple[int, str, str]]) -> None:
    for user_id, trigger, occasion in keys:
        fire_pending(user_id=user_id, trigger=trigger, occasion=occasion)


def fire_pending(*, user_id: int, trigger: str, occasion: str) -> int:
    """Fire one written-down occasion and strike it off; when the firing fails it stays, due later."""
    try:
        given = fire_now(user_id=user_id, trigger=trigger, occasion=occasion)
        PendingTrigger.objects.filter(user_id=user_id, trigger=trigger, occasion=occasion).delete()
    except Exception:
        logger.exception("%s packs for user %s (%s) failed; the pending-triggers job tries again", trigger,
                         user_id, occasion)  # fmt: skip
        _postpone(user_id, trigger, occasion)
        return 0
    return given


def _postpone(user_id: int, trigger: str, occasion: str) -> None:
    pending = PendingTrigger.objects.filter(user_id=user_id, trigger=trigger, occasion=occasion)
    try:
        attempts = pending.values_list("attempts", flat=True).first()
        if attempts is None:
            return
        pending.update(attempts=F("attempts") + 1, due_at=timezone.now() + retry_delay(attempts + 1))
    except Exception:  # the row keeps its due time: the job tries it then
        logger.exception("could not postpone the %s packs of user %s (%s)", trigger, user_id, occasion)


def retry_delay(failures: int) -> timedelta:
    """How long the job waits after the ``failures``-th failure: doubling from RETRY_DELAY, at most
    MAX_RETRY_DELAY (the exponent is bounded first, so the product never overflows)."""
    return min(RETRY_DELAY * 2 ** min(failures, _MAX_DOUBLINGS), MAX_RETRY_DELAY)


def on_customer_registered(*, user_id: int, inviter_id: int | None) -> None:
    """Registration fires the REGISTER pack, and with an invite the INVITE_INVITEE/INVITE_INVITER packs."""
    occasions = [(user_id, GiftPackTrigger.REGISTER, "register")]
    if inviter_id:
        occasions.append((user_id, GiftPackTrigger.INVITE_INVITEE, "invitee"))
        occasions.append((inviter_id, GiftPackTrigger.INVITE_INVITER, f"invitee:{user_id}"))
    record(occasions)


def on_first_order_paid(user_id: int, order_id: int) -> None:
    """Call inside the transaction that pays the customer's first paid order."""
    logger.debug("first order %s paid by %s", order_id, user_id)
    record([(user_id, GiftPackTrigger.FIRST_ORDER_PAID, "first-order")])


def on_birthday(user_id: int, year: int) -> None:
    record([(user_id, GiftPackTrigger.BIRTHDAY, f"birthday:{year}")])


def on_member_level_up(user_id: int, level: str) -> None:
    record([(user_id, GiftPackTrigger.MEMBER_LEVEL_UP, f"level:{level}")])
