"""Bulk grants (精准营销): maker-checker, then a resumable run in chunks.

Workflow: DRAFT --submit--> PENDING_REVIEW --approve--> APPROVED --run--> RUNNING --> DONE
(``reject`` sends it back to DRAFT with a remark; ``cancel`` stops it before or while it runs; a
template that stops issuing mid-run ends it as FAILED).

Exactly once per (grant, user), whatever happens to the worker:
1. The targets are read in user id order: an uploaded list is stored as PENDING recipients when the
   grant is created; a segment is read from the member profiles as the run goes, as it stood when the
   run started (its time and its last user id are kept on the grant).
2. Each chunk is one transaction. It locks the grant's row (chunks of one grant take turns, so two
   workers share a run without overlapping), reads the next users after the grant's progress, has
   ``coupons.ledger.issue_many`` lock the template row, take stock and quotas and insert the coupons,
   records each user's outcome (the recipient row, unique per (grant, user)), and moves the progress
   and the counters. A killed worker loses only its uncommitted chunk; a committed chunk is never
   handled again.
3. The customers' "you received a coupon" messages are written after each chunk commits
   (``bulk_grant_announce``), from the GRANTED recipients, exactly once per (grant, user).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.actions import status_label
from core.audit import audit_record
from core.clock import business_tz
from core.db import retry_on_conflict
from core.errors import ApplicationError, InvalidTransition, ValidationFailed
from core.events import Event, emit
from core.jobs import enqueue
from core.review import Move, Workflow, rejection_remark, require_perm
from core.statements import insert_rows, insert_rows_ignoring_duplicates
from core.userlists import parse_user_list as parse_user_list  # re-exported for the API and admin
from core.userlists import resolve_users
from coupons.errors import CouponErrorCode
from coupons.issuable import issuable_now
from coupons.ledger import issue_many, with_fresh_codes
from coupons.models import CouponSource, CouponTemplate, TemplateStatus, UserCoupon
from marketing.models import (
    BulkGrant,
    BulkGrantRecipient,
    BulkGrantStatus,
    BulkGrantTarget,
    GiftPack,
    GiftPackItem,
    Notification,
    RecipientStatus,
)
from marketing.notifications import enqueue_send, granted_notification
from marketing.services.gift_packs import gift_pack_lock, pack_grant_in_transaction
from marketing.services.segments import clean_segment, segment_profiles

logger = logging.getLogger(__name__)

S = BulkGrantStatus
MAX_LIST_USERS = 1_000_000
_RESOLVE_BATCH = 5_000

# action -> (states it may start from, state it ends in, permission it needs)
TRANSITIONS: dict[str, Move] = {
    "submit": Move(frozenset({S.DRAFT}), S.PENDING_REVIEW, "marketing.submit_bulkgrant"),
    "approve": Move(frozenset({S.PENDING_REVIEW}), S.APPROVED, "marketing.review_bulkgrant"),
    "reject": Move(frozenset({S.PENDING_REVIEW}), S.DRAFT, "marketing.review_bulkgrant"),
    "cancel": Move(
        frozenset({S.DRAFT, S.PENDING_REVIEW, S.APPROVED, S.RUNNING}),
        S.CANCELLED,
        "marketing.change_bulkgrant",
    ),
}

WORKFLOW = Workflow(
    model=BulkGrant,
    moves=TRANSITIONS,
    refusal=gettext_lazy("Cannot %(action)s a bulk grant that is %(status)s."),
    self_review=gettext_lazy("Whoever created, edited or submitted a bulk grant cannot review it."),
)


# Input ------------------------------------------------------------------------------------------


def _clean(
    *,
    name: str,
    target_type: str,
    segment: Any,
    template: CouponTemplate | None,
    gift_pack: GiftPack | None,
    scheduled_at: datetime | None,
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if not (name or "").strip():
        errors["name"] = [_("This field is required.")]
    if target_type not in BulkGrantTarget.values:
        errors["target_type"] = [_("Choose USER_LIST or SEGMENT.")]
    if (template is None) == (gift_pack is None):
        errors["template"] = [_("Grant either a template or a gift pack.")]
    elif template is not None and template.status != TemplateStatus.APPROVED:
        errors["template"] = [_("Only an approved template can be granted.")]
    elif gift_pack is not None and not gift_pack.is_active:
        errors["gift_pack"] = [_("This gift pack is not active.")]
    else:
        errors.update(_issuable_errors(template=template, gift_pack=gift_pack, moment=_run_moment(scheduled_at)))
    cleaned_segment: dict[str, Any] = {}
    if target_type == BulkGrantTarget.SEGMENT:
        try:
            cleaned_segment = clean_segment(segment)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationFailed(_("The bulk grant is not valid."), details=errors)
    return {
        "name": name.strip(),
        "target_type": target_type,
        "segment": cleaned_segment,
        "template": template,
        "gift_pack": gift_pack,
        "scheduled_at": scheduled_at,
    }


def _run_moment(scheduled_at: datetime | None) -> datetime:
    """When a grant scheduled at ``scheduled_at`` runs: then, or now when that has passed or is unset."""
    now = timezone.now()
    return scheduled_at if scheduled_at is not None and scheduled_at > now else now


def _shown(moment: datetime) -> str:
    return timezone.localtime(moment, business_tz()).strftime("%Y-%m-%d %H:%M")


def _not_issuable_message(template: CouponTemplate, reason: str, moment: datetime) -> str:
    if reason == "NOT_STARTED" and template.issue_start_time is not None:
        why = _("its claim window opens at %(time)s") % {"time": _shown(template.issue_start_time)}
    elif reason == "ENDED" and template.issue_end_time is not None and template.status == TemplateStatus.APPROVED:
        why = _("its claim window closes at %(time)s") % {"time": _shown(template.issue_end_time)}
    elif reason == "VALIDITY_OVER" and template.valid_until is not None:
        why = _("its coupons are valid only until %(time)s") % {"time": _shown(template.valid_until)}
    else:
        why = _("it is %(status)s") % {"status": template.get_status_display()}
    return _("%(template)s cannot issue coupons at %(moment)s, when this grant runs: %(why)s.") % {
        "template": template.name,
        "moment": _shown(moment),
        "why": why,
    }


def _issuable_errors(
    *, template: CouponTemplate | None, gift_pack: GiftPack | None, moment: datetime
) -> dict[str, list[str]]:
    """Field errors for what the grant hands out that cannot be issued at ``moment`` (each of a gift
    pack's templates too): otherwise every customer would end up FAILED or skipped."""
    if template is not None:
        reason = issuable_now(template, moment)
        return {"template": [_not_issuable_message(template, reason, moment)]} if reason else {}
    if gift_pack is None:
        return {}
    items = GiftPackItem.objects.filter(pack_id=gift_pack.pk).select_related("template").order_by("pk")
    messages = []
    for item in items:
        reason = issuable_now(item.template, moment)
        if reason is not None:
            messages.append(_not_issuable_message(item.template, reason, moment))
    return {"gift_pack": messages} if messages else {}


def _require_issuable(grant: BulkGrant) -> None:
    """Checked again at submit and approve: a claim window may have closed since the draft was saved."""
    errors = _issuable_errors(
        template=grant.template, gift_pack=grant.gift_pack, moment=_run_moment(grant.scheduled_at)
    )
    if errors:
        raise ValidationFailed(" ".join(m for messages in errors.values() for m in messages), details=errors)


def _store_list(grant: BulkGrant, identifiers: list[str]) -> None:
    user_ids, unknown = resolve_users(identifiers)
    if unknown:
        raise ValidationFailed(
            _("Unknown customers: %(users)s") % {"users": ", ".join(unknown[:20])},
            details={
                "users": [_("%(count)s identifiers match no customer.") % {"count": len(unknown)}],
                "unknown": unknown[:100],
            },
        )
    if not user_ids:
        raise ValidationFailed(_("The list names no customer."), details={"users": [_("The list is empty.")]})
    if len(user_ids) > MAX_LIST_USERS:
        raise ValidationFailed(
            _("At most %(max)s customers per list.") % {"max": MAX_LIST_USERS},
            details={"users": [_("At most %(max)s customers per list.") % {"max": MAX_LIST_USERS}]},
        )
    BulkGrantRecipient.objects.filter(grant=grant).delete()
    for start in range(0, len(user_ids), _RESOLVE_BATCH):
        BulkGrantRecipient.objects.bulk_create(
            [BulkGrantRecipient(grant=grant, user_id=uid) for uid in user_ids[start : start + _RESOLVE_BATCH]],
            ignore_conflicts=True,
        )
    grant.targeted = len(user_ids)
    grant.save(update_fields=["targeted", "updated_at"])


# Workflow ---------------------------------------------------------------------------------------


@transaction.atomic
def bulk_grant_create(
    *,
    actor: Any,
    name: str,
    target_type: str,
    segment: Any = None,
    users: list[str] | None = None,
    template: CouponTemplate | None = None,
    gift_pack: GiftPack | None = None,
    scheduled_at: datetime | None = None,
) -> BulkGrant:
    """A draft bulk grant. ``users`` (ids or usernames) is the list of a USER_LIST grant, stored as
    its recipients at once; a SEGMENT is evaluated when the grant runs."""
    require_perm(actor, "marketing.add_bulkgrant")
    data = _clean(
        name=name,
        target_type=target_type,
        segment=segment,
        template=template,
        gift_pack=gift_pack,
        scheduled_at=scheduled_at,
    )
    if target_type == BulkGrantTarget.USER_LIST and not users:
        raise ValidationFailed(_("Upload the list of customers."), details={"users": [_("The list is empty.")]})
    grant = BulkGrant.objects.create(**data, status=S.DRAFT, created_by=actor)
    if target_type == BulkGrantTarget.USER_LIST:
        _store_list(grant, list(users or []))
    audit_record(subject=grant, actor=actor, action="create", to_status=S.DRAFT, data={"targeted": grant.targeted})
    return grant


@transaction.atomic
def bulk_grant_update(
    *,
    grant: BulkGrant,
    actor: Any,
    name: str,
    target_type: str,
    segment: Any = None,
    users: list[str] | None = None,
    template: CouponTemplate | None = None,
    gift_pack: GiftPack | None = None,
    scheduled_at: datetime | None = None,
) -> BulkGrant:
    """Edit a draft (a new list replaces the old one)."""
    require_perm(actor, "marketing.change_bulkgrant")
    locked = BulkGrant.objects.select_for_update().get(pk=grant.pk)
    if locked.status != S.DRAFT:
        raise InvalidTransition(
            _("Only a draft can be edited."), code=CouponErrorCode.NOT_EDITABLE, details={"status": locked.status}
        )
    data = _clean(
        name=name,
        target_type=target_type,
        segment=segment,
        template=template,
        gift_pack=gift_pack,
        scheduled_at=scheduled_at,
    )
    for field, value in data.items():
        setattr(locked, field, value)
    locked.save()
    if target_type == BulkGrantTarget.USER_LIST and users:
        _store_list(locked, users)
    elif target_type == BulkGrantTarget.USER_LIST and not locked.recipients.exists():
        raise ValidationFailed(_("Upload the list of customers."), details={"users": [_("The list is empty.")]})
    elif target_type == BulkGrantTarget.SEGMENT:
        BulkGrantRecipient.objects.filter(grant=locked).delete()
        locked.targeted = 0
        locked.save(update_fields=["targeted"])
    audit_record(subject=locked, actor=actor, action="edit", from_status=S.DRAFT, to_status=S.DRAFT)
    return locked


def can_transition(grant: BulkGrant, action: str, actor: Any) -> bool:
    return WORKFLOW.can(grant, action, actor)


def transition_refusal(grant: BulkGrant, action: str, actor: Any) -> ApplicationError | None:
    """Why ``actor`` may not press ``action`` now (``Workflow.refusal_of``): None when they may."""
    return WORKFLOW.refusal_of(grant, action, actor)


def _transition(grant: BulkGrant, action: str, actor: Any, remark: str = "", seen: datetime | None = None) -> BulkGrant:
    locked = WORKFLOW.begin(grant, action, actor, seen)
    if action == "cancel":
        locked.finished_at = timezone.now()
        return WORKFLOW.finish(locked, action, actor, remark, fields=["finished_at"])
    return WORKFLOW.finish(locked, action, actor, remark)


@transaction.atomic
def bulk_grant_submit(*, grant: BulkGrant, actor: Any) -> BulkGrant:
    """Send a draft to Finance. A gift pack it hands out can no longer be changed from here until the
    grant is rejected, cancelled or has run; its row is locked in turn with a change being saved."""
    locked = _transition(grant, "submit", actor)
    if locked.gift_pack_id is not None:
        gift_pack_lock(pack_id=locked.gift_pack_id)
    if locked.target_type == BulkGrantTarget.USER_LIST and not locked.recipients.exists():
        raise ValidationFailed(_("The list names no customer."), details={"users": [_("The list is empty.")]})
    _require_issuable(locked)
    return locked


@transaction.atomic
def bulk_grant_approve(*, grant: BulkGrant, actor: Any, remark: str = "", seen: datetime | None = None) -> BulkGrant:
    """Finance approves (not an author; ``seen``: the version the reviewer read). Due now (no
    ``scheduled_at``, or passed): the run is enqueued after commit; otherwise the scheduled job starts it
    when it is due."""
    approved = _transition(grant, "approve", actor, remark, seen)
    _require_issuable(approved)
    if approved.scheduled_at is None or approved.scheduled_at <= timezone.now():
        transaction.on_commit(lambda: _enqueue_run(approved.pk))
    return approved


@transaction.atomic
def bulk_grant_reject(*, grant: BulkGrant, actor: Any, remark: str, seen: datetime | None = None) -> BulkGrant:
    return _transition(grant, "reject", actor, rejection_remark(remark), seen)


@transaction.atomic
def bulk_grant_cancel(*, grant: BulkGrant, actor: Any, remark: str = "") -> BulkGrant:
    """Cancel before or during the run; chunks already committed stay granted."""
    return _transition(grant, "cancel", actor, remark)


def _enqueue_run(grant_id: int) -> None:
    try:
        enqueue("marketing.tasks.run_bulk_grant", grant_id)
    except Exception:  # the scheduled job picks up approved grants that are due
        logger.exception("could not enqueue bulk grant %s", grant_id)


# Running ----------------------------------------------------------------------------------------


# Errors that pass (the database, the network, the worker's time limit): the run is tried again.
PASSING_ERRORS = (DatabaseError, OSError, SoftTimeLimitExceeded)


@dataclass
class _Outcome:
    granted: list[int]
    skipped_limit: list[int]
    skipped_stock: list[int]
    failed: list[int]


def bulk_grant_run(*, grant: BulkGrant, chunk_size: int | None = None, max_chunks: int | None = None) -> BulkGrant:
    """Run (or resume) an approved or running grant until every targeted user is handled.

    Safe to call again at any time, from any number of workers: see the module docstring.
    ``max_chunks`` stops after that many chunks (the run stays RUNNING and resumes later).
    """
    chunk_size = chunk_size or settings.BULK_GRANT_CHUNK_SIZE
    try:
        if _start(grant.pk) is None:
            return BulkGrant.objects.get(pk=grant.pk)
        done = 0
        while max_chunks is None or done < max_chunks:
            handled = _chunk_with_fresh_codes(grant.pk, chunk_size)
            if handled is None:  # cancelled, or finished by another worker
                break
            if handled == 0:
                _finish(grant.pk)
                break
            done += 1
    except PASSING_ERRORS:
        raise  # the task retries, or the scheduled job resumes the run after the last committed chunk
    except Exception as exc:
        # Anything else would fail the same way at every attempt, and an approved grant is picked up
        # again by the scheduled job every few seconds: the run ends here, with the error kept.
        logger.exception("bulk grant %s failed", grant.pk)
        _fail(grant.pk, f"{RUN_ERROR}:{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS])
    return BulkGrant.objects.get(pk=grant.pk)


@retry_on_conflict
def _fail(grant_id: int, error: str) -> None:
    locked = BulkGrant.objects.select_for_update().get(pk=grant_id)
    if locked.status not in (S.APPROVED, S.RUNNING):
        return
    locked.last_error = error
    _close(locked, S.FAILED, ["last_error"], {"error": error, "granted": locked.granted, "failed": locked.failed})


def _close(locked: BulkGrant, status: str, fields: list[str], data: dict[str, Any]) -> None:
    """End a locked grant's run in ``status`` (saving ``fields`` too): the done event and the audit row."""
    from_status = locked.status
    locked.status = status
    locked.finished_at = timezone.now()
    locked.save(update_fields=["status", "finished_at", *fields, "updated_at"])
    emit(Event.BULK_GRANT_DONE, bulk_grant_id=locked.pk, status=locked.status, granted=locked.granted)
    audit_record(subject=locked, actor=None, action="finish", from_status=from_status, to_status=status, data=data)


@retry_on_conflict
def _start(grant_id: int) -> BulkGrant | None:
    locked = BulkGrant.objects.select_for_update().get(pk=grant_id)
    if locked.status == S.RUNNING:
        return locked
    if locked.status != S.APPROVED:
        return None
    now = timezone.now()
    if locked.scheduled_at and locked.scheduled_at > now:
        return None
    locked.started_at = now
    if locked.target_type == BulkGrantTarget.SEGMENT:
        # The segment is the users signed up when the run starts, evaluated as at that moment.
        locked.last_user_id = get_user_model().objects.aggregate(last=Max("pk"))["last"] or 0
        locked.targeted = _segment(locked).count()
    else:
        locked.targeted = BulkGrantRecipient.objects.filter(grant=locked).count()
    locked.status = S.RUNNING
    locked.heartbeat_at = now
    locked.save(update_fields=["targeted", "status", "started_at", "last_user_id", "heartbeat_at", "updated_at"])
    audit_record(
        subject=locked,
        actor=None,
        action="run",
        from_status=S.APPROVED,
        to_status=S.RUNNING,
        data={"targeted": locked.targeted},
    )
    return locked


def _stored_list(grant: BulkGrant) -> bool:
    """An uploaded list (and a segment started before segments were read as the run goes) is stored
    as PENDING recipients; a segment is read from the member profiles chunk by chunk."""
    return grant.target_type == BulkGrantTarget.USER_LIST or grant.last_user_id is None


def _segment(grant: BulkGrant) -> Any:
    assert grant.started_at is not None and grant.last_user_id is not None
    return segment_profiles(grant.segment, grant.started_at).filter(user_id__lte=grant.last_user_id)


def _next_users(grant: BulkGrant, count: int) -> list[int]:
    """The next ``count`` targeted users after the grant's progress, in id order."""
    if _stored_list(grant):
        source = BulkGrantRecipient.objects.filter(grant_id=grant.pk, status=RecipientStatus.PENDING)
    else:
        source = _segment(grant)
    return list(
        source.filter(user_id__gt=grant.progress_user_id).order_by("user_id").values_list("user_id", flat=True)[:count]
    )


def _finish(grant_id: int) -> None:
    with transaction.atomic():
        locked = BulkGrant.objects.select_for_update().get(pk=grant_id)
        if locked.status != S.RUNNING or _next_users(locked, 1):
            return
        # A segment member who left it during the run (an order placed, a level changed) was not handled.
        locked.targeted = locked.granted + locked.skipped_limit + locked.skipped_stock + locked.failed
        _close(
            locked,
            S.FAILED if locked.last_error and locked.failed else S.DONE,
            ["targeted"],
            {
                "targeted": locked.targeted,
                "granted": locked.granted,
                "skipped_limit": locked.skipped_limit,
                "skipped_stock": locked.skipped_stock,
                "failed": locked.failed,
            },
        )


def _chunk_with_fresh_codes(grant_id: int, chunk_size: int) -> int | None:
    # A pack's coupons are inserted one claim at a time: a collision there retries the whole chunk.
    return with_fresh_codes(lambda: _chunk(grant_id, chunk_size))


@retry_on_conflict
def _chunk(grant_id: int, chunk_size: int) -> int | None:
    """Handle the next chunk of targeted users; returns how many (0 when none is left, None when the
    grant is no longer running).

    The grant's row is locked for the chunk: chunks of one grant take turns, each reading the progress
    the one before committed, so no user is handled twice; the unique (grant, user) key of the
    recipients is the backstop.
    """
    grant = BulkGrant.objects.select_for_update().get(pk=grant_id)
    if grant.status != S.RUNNING:
        return None
    user_ids = _next_users(grant, chunk_size)
    if not user_ids:
        return 0
    now = timezone.now()
    outcome = _grant_template_chunk(grant, user_ids, now) if grant.template_id else _grant_pack_chunk(grant, user_ids)
    by_status = {
        RecipientStatus.GRANTED: outcome.granted,
        RecipientStatus.SKIPPED_LIMIT: outcome.skipped_limit,
        RecipientStatus.SKIPPED_STOCK: outcome.skipped_stock,
        RecipientStatus.FAILED: outcome.failed,
    }
    if _stored_list(grant):
        for status, users in by_status.items():
            if users:
                BulkGrantRecipient.objects.filter(grant_id=grant.pk, user_id__in=users).update(
                    status=status, processed_at=now
                )
    else:
        # One INSERT per outcome (most chunks have one), in user id order: the outcome is a shared value.
        processed_at = connection.ops.adapt_datetimefield_value(now)
        for status, users in by_status.items():
            if users:
                insert_rows(
                    BulkGrantRecipient,
                    ["user_id"],
                    [(uid,) for uid in sorted(users)],
                    shared={"grant_id": grant.pk, "status": status, "processed_at": processed_at},
                )
    BulkGrant.objects.filter(pk=grant.pk).update(
        granted=F("granted") + len(outcome.granted),
        skipped_limit=F("skipped_limit") + len(outcome.skipped_limit),
        skipped_stock=F("skipped_stock") + len(outcome.skipped_stock),
        failed=F("failed") + len(outcome.failed),
        progress_user_id=user_ids[-1],
        heartbeat_at=now,
        updated_at=now,
    )
    if grant.template_id and outcome.granted:
        transaction.on_commit(lambda: enqueue_announce(grant.pk))
    return len(user_ids)


def _grant_template_chunk(grant: BulkGrant, user_ids: list[int], now: datetime) -> _Outcome:
    assert grant.template_id is not None
    issued = issue_many(
        template_id=grant.template_id,
        user_ids=user_ids,
        source=CouponSource.BULK_GRANT,
        source_ref=str(grant.pk),
        now=now,
    )
    if issued.refused is not None:
        BulkGrant.objects.filter(pk=grant.pk).update(last_error=f"{TEMPLATE_STOPPED}:{issued.refused}")
        return _Outcome([], [], [], user_ids)
    return _Outcome(issued.granted, issued.skipped_limit, issued.skipped_stock, [])


def _grant_pack_chunk(grant: BulkGrant, user_ids: list[int]) -> _Outcome:
    assert grant.gift_pack is not None
    outcome = _Outcome([], [], [], [])
    for uid in user_ids:
        pack_grant, _created = pack_grant_in_transaction(user_id=uid, pack=grant.gift_pack, occasion=f"bulk:{grant.pk}")
        reasons = {item.get("reason") for item in pack_grant.skipped}
        if pack_grant.granted:
            outcome.granted.append(uid)
        elif CouponErrorCode.SOLD_OUT in reasons:
            outcome.skipped_stock.append(uid)
        elif CouponErrorCode.LIMIT_REACHED in reasons:
            outcome.skipped_limit.append(uid)
        else:
            outcome.failed.append(uid)
    return outcome


# The last error ---------------------------------------------------------------------------------
#
# ``last_error`` keeps a code and its parameter ("TEMPLATE_STOPPED:STOPPED"), written by the worker
# whatever its language; ``last_error_text`` renders it in the reader's. Errors written before this
# form (free text) are shown as they were written.

TEMPLATE_STOPPED = "TEMPLATE_STOPPED"
RUN_ERROR = "RUN_ERROR"
_MAX_ERROR_CHARS = 500
# Why a template issues nothing (``coupons.issuable.issuable_now``) beyond its status.
_REFUSAL_LABELS = {
    "NOT_STARTED": gettext_lazy("claim window not open yet"),
    "ENDED": gettext_lazy("claim window over"),
    "VALIDITY_OVER": gettext_lazy("validity over"),
}


def last_error_text(last_error: str) -> str:
    """A grant's ``last_error`` as the reader reads it (in the active language)."""
    code, _sep, parameter = last_error.partition(":")
    if code == TEMPLATE_STOPPED:
        reason = str(_REFUSAL_LABELS.get(parameter) or status_label(CouponTemplate, parameter))
        return _("The template stopped issuing (%(reason)s).") % {"reason": reason}
    if code == RUN_ERROR:
        return _("The run stopped on an unexpected error (%(error)s).") % {"error": parameter}
    return last_error


# Announcing -------------------------------------------------------------------------------------
#
# A customer granted a template's coupon gets one "you received a coupon" message. The chunk commits
# the GRANTED recipient row with the coupon; the message itself is written after the commit by
# ``bulk_grant_announce`` (a task enqueued by each chunk, and by the outbox job for any grant left
# behind), so the grant's transactions carry only what the grant needs. The message's dedupe key
# (grant, user) makes announcing twice write nothing new.

ANNOUNCE_BATCH = 1_000


def enqueue_announce(grant_id: int) -> None:
    try:
        enqueue("marketing.tasks.announce_bulk_grant", grant_id)
    except Exception:  # the outbox job announces what is left behind
        logger.exception("could not enqueue the announcement of bulk grant %s", grant_id)


def bulk_grant_announce(*, grant_id: int, batch: int = ANNOUNCE_BATCH) -> int:
    """Write the message of every granted recipient of a template grant not yet announced, in user id
    order up to the grant's progress; returns how many messages were written."""
    grant = BulkGrant.objects.select_related("template").filter(pk=grant_id).first()
    if grant is None or grant.template is None:
        return 0
    sample = granted_notification(user_id=0, count=1, template_names=[grant.template.name], data={})
    data = {"coupon_ids": [], "template_ids": [grant.template_id], "bulk_grant_id": grant_id}
    shared = {
        "kind": sample.kind,
        "title": sample.title,
        "body": sample.body,
        "texts": json.dumps(sample.texts),
        "created_at": connection.ops.adapt_datetimefield_value(timezone.now()),
        "sent_at": None,
        "read_at": None,
    }
    written = 0
    while True:
        after, upto = BulkGrant.objects.filter(pk=grant_id).values_list("announced_user_id", "progress_user_id").get()
        users = list(
            BulkGrantRecipient.objects.filter(
                grant_id=grant_id, status=RecipientStatus.GRANTED, user_id__gt=after, user_id__lte=upto
            )
            .order_by("user_id")
            .values_list("user_id", flat=True)[:batch]
        )
        if not users:
            # Recipients after the last granted one were skipped: nothing is owed up to the progress,
            # so the outbox job does not look at this grant again.
            BulkGrant.objects.filter(pk=grant_id, announced_user_id__lt=upto).update(announced_user_id=upto)
            return written
        coupon_of = dict(
            UserCoupon.objects.filter(
                user_id__in=users,
                template_id=grant.template_id,
                source=CouponSource.BULK_GRANT,
                source_ref=str(grant_id),
            ).values_list("user_id", "pk")
        )
        keys = {uid: f"bulk-grant:{grant_id}:{uid}" for uid in users}
        with transaction.atomic():
            created = insert_rows_ignoring_duplicates(
                Notification,
                ["user_id", "data", "dedupe_key"],
                [
                    (uid, json.dumps({**data, "coupon_ids": [coupon_of[uid]]}), keys[uid])
                    for uid in users
                    if uid in coupon_of
                ],
                shared=shared,
            )
            BulkGrant.objects.filter(pk=grant_id, announced_user_id__lt=users[-1]).update(announced_user_id=users[-1])
        written += created
        if created:
            enqueue_send(
                list(
                    Notification.objects.filter(dedupe_key__in=keys.values(), sent_at__isnull=True).values_list(
                        "pk", flat=True
                    )
                )
            )


def bulk_grants_announce_left_behind() -> int:
    """Announce every template grant whose messages lag behind its progress (the outbox job)."""
    written = 0
    for grant_id in BulkGrant.objects.filter(
        template__isnull=False, announced_user_id__lt=F("progress_user_id")
    ).values_list("pk", flat=True):
        written += bulk_grant_announce(grant_id=grant_id)
    return written
