"""Where business events meet gift packs. Each function is safe to call more than once.

Every function waits for the caller's transaction to commit (an order paid inside a transaction gives
its pack only if the payment commits), then fires the packs. A pack that cannot be given because the
database is unreachable is handed to a Celery task to try again; the event itself never fails.

Occasions (the "exactly once per user and occasion" key):
- REGISTER: ``register``; INVITE_INVITEE: ``invitee`` (a user registers once);
- INVITE_INVITER: ``invitee:<new user id>`` (once per friend invited);
- FIRST_ORDER_PAID: ``first-order`` (once per user, whichever order the caller reports);
- BIRTHDAY: ``birthday:<year>``; MEMBER_LEVEL_UP: ``level:<level>``.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import transaction

from core.jobs import enqueue
from marketing.models import GiftPackTrigger
from marketing.services import gift_packs

logger = logging.getLogger(__name__)


def fire_now(*, user_id: int, trigger: str, occasion: str) -> int:
    """Fire ``trigger`` for a user now; returns how many packs were newly given."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return 0
    return len(gift_packs.fire_trigger(user=user, trigger=trigger, occasion=occasion))


def _fire_safely(user_id: int, trigger: str, occasion: str) -> None:
    try:
        fire_now(user_id=user_id, trigger=trigger, occasion=occasion)
    except Exception:
        logger.exception("%s packs for user %s (%s) failed; retrying in a task", trigger, user_id, occasion)
        try:
            enqueue("marketing.tasks.fire_trigger_task", user_id, trigger, occasion)
        except Exception:
            logger.exception("could not enqueue the retry of %s packs for user %s", trigger, user_id)


def _after_commit(user_id: int, trigger: str, occasion: str) -> None:
    transaction.on_commit(lambda: _fire_safely(user_id, trigger, occasion))


def on_customer_registered(*, user_id: int, inviter_id: int | None) -> None:
    """Registration fires the REGISTER pack, and with an invite the INVITE_INVITEE/INVITE_INVITER packs."""
    _after_commit(user_id, GiftPackTrigger.REGISTER, "register")
    if inviter_id:
        _after_commit(user_id, GiftPackTrigger.INVITE_INVITEE, "invitee")
        _after_commit(inviter_id, GiftPackTrigger.INVITE_INVITER, f"invitee:{user_id}")


def on_first_order_paid(user_id: int, order_id: int) -> None:
    """Call when an order is paid and it is the customer's first paid order."""
    logger.debug("first order %s paid by %s", order_id, user_id)
    _after_commit(user_id, GiftPackTrigger.FIRST_ORDER_PAID, "first-order")


def on_birthday(user_id: int, year: int) -> None:
    _after_commit(user_id, GiftPackTrigger.BIRTHDAY, f"birthday:{year}")


def on_member_level_up(user_id: int, level: str) -> None:
    _after_commit(user_id, GiftPackTrigger.MEMBER_LEVEL_UP, f"level:{level}")
