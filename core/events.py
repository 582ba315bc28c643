"""Domain events: a lower layer states a fact, and the layers above subscribe to it without being imported.

A service calls ``emit(Event.ORDER_PAID, order_id=..., user_id=...)`` inside the transaction that made
the fact true. Subscribers registered with ``in_transaction=True`` run at once, inside that transaction:
an outbox row they write commits or rolls back with the change, so it is never lost and never sent for a
change that did not happen. The other subscribers run after the commit (``transaction.on_commit``), where
a failure can no longer undo the change: the place for enqueueing tasks and refreshing caches.

Hot paths that run between a plain ``START TRANSACTION`` and ``COMMIT`` (``core.db.plain_transaction``)
pass the list of callables that runs after that commit as ``after_commit``.

Subscribers connect in their app's ``AppConfig.ready``. An event nobody subscribes to costs a dict
look-up. Payloads hold plain JSON values (ids, codes, decimal strings), never model instances, so the
same payload can be stored in an outbox and read by another process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import transaction


class Event(StrEnum):
    TEMPLATE_APPROVED = "template.approved"
    COUPON_ISSUED = "coupon.issued"
    COUPON_USED = "coupon.used"
    ORDER_PAID = "order.paid"
    ORDER_REFUNDED = "order.refunded"
    BUDGET_ALERT = "budget.alert"
    BULK_GRANT_DONE = "bulk_grant.done"


Handler = Callable[..., None]
# (event, facts known before the transaction) -> whether an in-transaction subscriber has work to do
Wants = Callable[[Event, dict[str, Any]], bool]


@dataclass(frozen=True)
class _Subscriber:
    handler: Handler
    in_transaction: bool
    uid: str
    wants: Wants | None = None


_subscribers: dict[Event, list[_Subscriber]] = {}


def subscribe(
    event: Event, handler: Handler, *, uid: str, in_transaction: bool = False, wants: Wants | None = None
) -> None:
    """Call ``handler(event=..., **payload)`` whenever ``event`` is emitted; ``uid`` makes it idempotent.

    ``wants`` tells cheaply whether the handler would do anything for an event with given facts: it is
    asked with the whole payload when the event is emitted, and for an in-transaction subscriber also
    before the transaction, so that a hot path can commit without it (see ``wanted_in_transaction``).
    """
    subscribers = _subscribers.setdefault(Event(event), [])
    if any(subscriber.uid == uid for subscriber in subscribers):
        return
    subscribers.append(_Subscriber(handler, in_transaction, uid, wants))


def unsubscribe(event: Event, uid: str) -> None:
    _subscribers[Event(event)] = [s for s in _subscribers.get(Event(event), []) if s.uid != uid]


def has_subscribers(event: Event) -> bool:
    """Whether anyone listens: a hot path may skip building a payload nobody reads."""
    return bool(_subscribers.get(event))


def wanted_in_transaction(event: Event, **facts: Any) -> bool:
    """Whether some subscriber must run inside the transaction of ``event`` with these ``facts``.

    A path that can commit on the server alone (the claim's stored procedure) asks first and takes it
    only when nobody needs the transaction; its in-transaction subscribers then run right after the
    commit, where they find nothing to do (or, if a subscription appeared meanwhile, still record it).
    """
    return any(
        subscriber.in_transaction and (subscriber.wants is None or subscriber.wants(event, facts))
        for subscriber in _subscribers.get(event, ())
    )


def emit(event: Event, *, after_commit: list[Callable[[], None]] | None = None, **payload: Any) -> None:
    """Announce ``event`` with ``payload`` from inside the transaction that made it true. A subscriber whose
    ``wants`` says it has nothing to do with these facts is not called."""
    for subscriber in _subscribers.get(event, ()):
        if subscriber.wants is not None and not subscriber.wants(event, payload):
            continue
        if subscriber.in_transaction:
            subscriber.handler(event=event, **payload)
        elif after_commit is not None:
            after_commit.append(_bound(subscriber.handler, event, payload))
        else:
            transaction.on_commit(_bound(subscriber.handler, event, payload))


def _bound(handler: Handler, event: Event, payload: dict[str, Any]) -> Callable[[], None]:
    return lambda: handler(event=event, **payload)
