"""The maker-checker workflow, written once for everything staff draft and others
approve: coupon templates, bulk grants, activities, budgets.

A ``Workflow`` holds one transition map (action -> the states it may start from, the state it ends in,
the permission it needs). Every move checks the permission, locks the row, checks the move is allowed
from the row's current state (else ``InvalidTransition``, 409 INVALID_STATE), refuses a review by one
of the object's authors (its creator, or anyone who edited or submitted it: SELF_REVIEW), records the
reviewer and the remark on approve/reject, and writes the audit row in the same transaction. A rejection
needs a remark (REMARK_REQUIRED).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from core.actions import action_label
from core.audit import audit_record
from core.errors import ApplicationError, InvalidTransition, PermissionDeniedError, ValidationFailed
from core.models import AuditLog

M = TypeVar("M", bound=Model)

REVIEW_ACTIONS = ("approve", "reject")
# What makes a person an author of an object under review, besides creating it.
AUTHOR_ACTIONS = ("create", "edit", "update", "copy", "submit")
INVALID_STATE = "INVALID_STATE"
SELF_REVIEW = "SELF_REVIEW"
REMARK_REQUIRED = "REMARK_REQUIRED"


@dataclass(frozen=True)
class Move:
    sources: frozenset[str]
    target: str
    # None: taken by a scheduled job, no person acts
    perm: str | None


@dataclass(frozen=True)
class Workflow(Generic[M]):
    model: type[M]
    moves: Mapping[str, Move]
    # "Cannot %(action)s a ... that is %(status)s." (lazy: rendered in the reader's language)
    refusal: Promise
    # "Whoever created, edited or submitted a ... cannot review it."
    self_review: Promise | None = None
    # the model records when it was reviewed (``reviewed_at``)
    stamps_review_time: bool = False
    # more to keep in the audit row of a move: (the moved row, action) -> data or None
    audit_data: Callable[[Any, str], dict[str, Any] | None] | None = None

    def can(self, obj: M, action: str, actor: Any) -> bool:
        """Whether ``actor`` may press ``action`` now (used to show only the buttons that work)."""
        return self.refusal_of(obj, action, actor) is None

    def refusal_of(self, obj: M, action: str, actor: Any) -> ApplicationError | None:
        """Why ``actor`` may not press ``action`` on ``obj`` as read, as ``begin`` would refuse it: None
        when they may. The permission comes first: whoever lacks it is refused whatever the state; whoever
        holds it is told the state (``INVALID_STATE``) or that they had a hand in it (``SELF_REVIEW``), as
        a page opened before someone else moved the object needs to say."""
        move = self.moves[action]
        if move.perm is not None and (actor is None or not actor.has_perm(move.perm)):
            return PermissionDeniedError(_("You do not have permission to do this."))
        status = getattr(obj, "status")  # noqa: B009
        if status not in move.sources:
            return self._invalid_state(obj, action)
        if action in REVIEW_ACTIONS and self.authored(obj, actor):
            return PermissionDeniedError(str(self.self_review), code=SELF_REVIEW)
        return None

    def _invalid_state(self, obj: M, action: str) -> InvalidTransition:
        return InvalidTransition(
            str(self.refusal) % {"action": action_label(action), "status": obj.get_status_display()},  # type: ignore[attr-defined]
            code=INVALID_STATE,
            details={"status": obj.status, "action": action},  # type: ignore[attr-defined]
        )

    def begin(self, obj: M, action: str, actor: Any, seen: datetime | None = None) -> M:
        """Check the actor, lock the row and check the move is allowed from its current state.

        ``seen``: the ``updated_at`` of the version the actor read (a review page, an API client); a row
        saved since is refused (409 INVALID_STATE), so nobody approves a version they have not seen.
        """
        move = self.moves[action]
        if move.perm is not None:
            require_perm(actor, move.perm)
        locked = self.model._default_manager.select_for_update().get(pk=obj.pk)
        status = locked.status  # type: ignore[attr-defined]
        if status not in move.sources:
            raise self._invalid_state(locked, action)
        if action in REVIEW_ACTIONS and self.authored(locked, actor):
            raise PermissionDeniedError(str(self.self_review), code=SELF_REVIEW)
        if seen is not None and locked.updated_at != seen:  # type: ignore[attr-defined]
            raise InvalidTransition(
                _("It changed after you opened it: open it again to see what you are about to %(action)s.")
                % {"action": action_label(action)},
                code=INVALID_STATE,
                details={"updated_at": locked.updated_at.isoformat(), "action": action},  # type: ignore[attr-defined]
            )
        return locked

    def authored(self, obj: M, actor: Any) -> bool:
        """Whether ``actor`` had a hand in what is reviewed: created it, or edited or submitted it (its
        audit trail says so), whoever it was created by."""
        if getattr(obj, "created_by_id") == actor.pk:  # noqa: B009
            return True
        return AuditLog.objects.filter(
            content_type=ContentType.objects.get_for_model(self.model, for_concrete_model=True),
            object_id=obj.pk,
            actor_id=actor.pk,
            action__in=AUTHOR_ACTIONS,
        ).exists()

    def finish(
        self,
        locked: M,
        action: str,
        actor: Any,
        remark: str = "",
        data: dict[str, Any] | None = None,
        fields: Iterable[str] = (),
    ) -> M:
        """Move the locked row to the action's state (``fields``: what the caller set on it besides)."""
        from_status, target = locked.status, self.moves[action].target  # type: ignore[attr-defined]
        locked.status = target  # type: ignore[attr-defined]
        changed = ["status", "updated_at", *fields]
        if action in REVIEW_ACTIONS:
            locked.reviewed_by = actor  # type: ignore[attr-defined]
            locked.review_remark = remark  # type: ignore[attr-defined]
            changed += ["reviewed_by", "review_remark"]
            if self.stamps_review_time:
                locked.reviewed_at = timezone.now()  # type: ignore[attr-defined]
                changed.append("reviewed_at")
        locked.save(update_fields=changed)
        extra = self.audit_data(locked, action) if self.audit_data is not None else None
        if extra:
            data = {**(data or {}), **extra}
        audit_record(
            subject=locked,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=target,
            remark=remark,
            data=data,
        )
        return locked

    def move(self, obj: M, action: str, actor: Any, remark: str = "", seen: datetime | None = None) -> M:
        return self.finish(self.begin(obj, action, actor, seen), action, actor, remark)


def forbids(refusal: ApplicationError) -> bool:
    """Whether a refusal (``Workflow.refusal_of``) means the person may not take the action at all, a
    403, rather than not on the object as it is now (its state, their own hand in it)."""
    return isinstance(refusal, PermissionDeniedError) and refusal.code != SELF_REVIEW


def version_of(obj: Model) -> str:
    """The version a review page shows, to be handed back as ``seen`` (``parse_version``)."""
    return obj.updated_at.isoformat()  # type: ignore[attr-defined]


def parse_version(text: str | None) -> datetime | None:
    """``seen`` from a page's hidden field: None when absent or not a moment."""
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def require_perm(actor: Any, perm: str) -> None:
    if actor is None or not actor.has_perm(perm):
        raise PermissionDeniedError(_("You do not have permission to do this."))


def rejection_remark(remark: str | None) -> str:
    """The remark of a rejection, which must say why."""
    if not (remark or "").strip():
        raise ValidationFailed(
            _("A rejection needs a remark."),
            code=REMARK_REQUIRED,
            details={"remark": [_("A rejection needs a remark.")]},
        )
    return (remark or "").strip()
