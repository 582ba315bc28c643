"""The notifications outbox: rows written in the transaction of what they announce, sent
after commit by a pluggable backend (``settings.NOTIFICATION_BACKEND``, a dotted path to a callable
taking a ``Notification``; the default logs it).

Sending is at least once: a row is claimed with a conditional UPDATE of ``claimed_at``, handed to the
backend, marked ``sent_at`` once the backend returned, and released again if the backend fails. Two
senders never send one row while its claim is fresh; a sender killed mid-send (OOM, deploy, SIGKILL)
leaves a claim that, once older than ``NOTIFICATION_CLAIM_TIMEOUT``, the every-minute job takes over.
So ``notifications_send`` can be run by any number of workers and retried safely.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.jobs import enqueue
from marketing.models import Notification, NotificationKind

logger = logging.getLogger(__name__)

SEND_BATCH = 500


def log_backend(notification: Notification) -> None:
    """The default backend: write the message to the log."""
    logger.info("notify user=%s kind=%s title=%s", notification.user_id, notification.kind, notification.title)


def backend() -> Callable[[Notification], Any]:
    return import_string(settings.NOTIFICATION_BACKEND)


def in_languages(render: Callable[[], tuple[str, str]]) -> tuple[str, str, dict[str, dict[str, str]]]:
    """A message's (title, body) rendered in each of the site's languages: the default language's pair, and
    every language's (``Notification.texts``). A message is written by whoever acts (a staff member in
    their admin language, a job in none) and read by a customer in theirs."""
    texts = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            title, body = render()
        texts[code] = {"title": title, "body": body}
    default = texts.get(settings.LANGUAGE_CODE) or next(iter(texts.values()))
    return default["title"], default["body"], texts


def text_for_reader(notification: Notification) -> dict[str, str]:
    """The title and body in the active language when the message has them, else as stored."""
    texts = notification.texts or {}
    chosen = texts.get(translation.get_language() or "") or {}
    return {"title": chosen.get("title", notification.title), "body": chosen.get("body", notification.body)}


def granted_notification(
    *,
    user_id: int,
    count: int,
    template_names: Sequence[str],
    data: dict[str, Any],
    dedupe_key: str | None = None,
) -> Notification:
    """An unsaved "you received N coupons" message."""

    def render() -> tuple[str, str]:
        title = ngettext("You received %(count)s coupon", "You received %(count)s coupons", count) % {"count": count}
        body = _("Now in your wallet: %(names)s") % {"names": ", ".join(template_names)} if template_names else ""
        return title, body

    return message(
        user_id=user_id, kind=NotificationKind.COUPON_GRANTED, render=render, data=data, dedupe_key=dedupe_key
    )


def message(
    *,
    user_id: int,
    kind: str,
    render: Callable[[], tuple[str, str]],
    data: dict[str, Any],
    dedupe_key: str | None = None,
) -> Notification:
    """An unsaved notification whose (title, body) ``render`` gives in the active language, written in
    every language of the site (``in_languages``)."""
    title, body, texts = in_languages(render)
    return Notification(
        user_id=user_id, kind=kind, title=title, body=body, texts=texts, data=data, dedupe_key=dedupe_key
    )


def notify_coupons_granted(
    *, user_id: int, coupons: Sequence[Any], dedupe_key: str | None = None, extra: dict[str, Any] | None = None
) -> Notification | None:
    """One message for one grant event, written in the caller's transaction and sent after it commits."""
    if not coupons:
        return None
    names = sorted({c.template.name for c in coupons})
    data = {"coupon_ids": [c.pk for c in coupons], "template_ids": sorted({c.template_id for c in coupons})}
    notification = granted_notification(
        user_id=user_id, count=len(coupons), template_names=names, data={**data, **(extra or {})}, dedupe_key=dedupe_key
    )
    notification.save(force_insert=True)
    send_after_commit([notification.pk])
    return notification


def notify_coupons_issued(
    *, user_id: int, template_id: int, template_name: str, coupon_ids: Sequence[int]
) -> Notification:
    """``notify_coupons_granted`` for coupons of one template known by their ids."""
    notification = granted_notification(
        user_id=user_id,
        count=len(coupon_ids),
        template_names=[template_name],
        data={"coupon_ids": list(coupon_ids), "template_ids": [template_id]},
    )
    notification.save(force_insert=True)
    send_after_commit([notification.pk])
    return notification


def send_after_commit(ids: list[int]) -> None:
    transaction.on_commit(lambda: enqueue_send(ids))


def enqueue_send(ids: list[int] | None = None) -> None:
    """Hand sending to a worker; if the broker is unreachable the rows wait for the next sweep."""
    try:
        enqueue("marketing.tasks.send_notifications", ids)
    except Exception:  # the outbox keeps the rows; never fail the grant over a broker hiccup
        logger.exception("could not enqueue sending of notifications %s", ids)


def _sendable(now: datetime) -> Q:
    # Far above one backend call: a sender that is only slow is rarely taken over.
    stale = now - timedelta(seconds=settings.NOTIFICATION_CLAIM_TIMEOUT)
    return Q(sent_at__isnull=True) & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale))


def notifications_send(*, ids: Sequence[int] | None = None, limit: int = SEND_BATCH) -> int:
    """Send unsent notifications (those in ``ids``, or the oldest ``limit``) that no live sender holds,
    taking over claims older than the timeout; returns how many went."""
    pending = Notification.objects.filter(_sendable(timezone.now()))
    if ids is not None:
        pending = pending.filter(pk__in=list(ids))
        limit = max(limit, len(ids))
    send = backend()
    sent = 0
    for notification in pending.order_by("pk")[:limit]:
        claimed_at = timezone.now()
        if not Notification.objects.filter(_sendable(claimed_at), pk=notification.pk).update(claimed_at=claimed_at):
            continue  # another sender has it
        try:
            send(notification)
        except Exception:
            logger.exception("sending notification %s failed; it stays in the outbox", notification.pk)
            Notification.objects.filter(pk=notification.pk, claimed_at=claimed_at).update(claimed_at=None)
            continue
        # Not conditional on our claim: a sender slower than the timeout was taken over, and the message
        # has gone either way.
        Notification.objects.filter(pk=notification.pk, sent_at__isnull=True).update(sent_at=timezone.now())
        sent += 1
    return sent
