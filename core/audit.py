"""The audit trail: one ``AuditLog`` row per state change that matters, written by the service that makes
the change. Workflow actions taken by staff are also written to Django's admin log (``LogEntry``) so the
admin's "recent actions" and each object's history page show them, with the object's name."""

import json
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models

from core.models import AuditLog

# Actions a person takes on purpose (the admin log's audience): the maker-checker workflow, and what admin
# actions and staff endpoints do beside a form (deactivating dishes, rotating a secret, sending a
# delivery again), which Django's admin does not log itself. Edits and creations made in admin forms are
# logged by admin itself; system moves (run, finish, end) have no person.
ADMIN_LOG_ACTIONS = frozenset(
    {
        "submit",
        "approve",
        "reject",
        "stop",
        "copy",
        "publish",
        "cancel",
        "grant",
        "deactivate",
        "rotate_secret",
        "retry",
    }
)
# Marks a ``LogEntry.change_message`` written here, so the history page can render it in the reader's
# language (see ``core.templatetags.audit_display``).
ADMIN_LOG_KEY = "workflow"


def audit_record(
    *,
    subject: models.Model,
    actor: Any,
    action: str,
    from_status: str = "",
    to_status: str = "",
    remark: str = "",
    data: dict[str, Any] | None = None,
) -> AuditLog:
    """Write one audit row; call it inside the transaction of the change it records."""
    content_type = ContentType.objects.get_for_model(subject, for_concrete_model=True)
    person = actor if actor is not None and getattr(actor, "pk", None) else None
    row = AuditLog.objects.create(
        content_type=content_type,
        object_id=subject.pk,
        actor=person,
        action=action,
        from_status=from_status,
        to_status=to_status,
        remark=remark,
        data=data or {},
    )
    if person is not None and getattr(person, "is_staff", False) and action in ADMIN_LOG_ACTIONS:
        _admin_log(subject, content_type, person, action, from_status, to_status, remark)
    return row


def _admin_log(
    subject: models.Model,
    content_type: ContentType,
    actor: Any,
    action: str,
    from_status: str,
    to_status: str,
    remark: str,
) -> None:
    message = {"action": action, "from": from_status, "to": to_status, "remark": remark[:500]}
    LogEntry.objects.create(
        user_id=actor.pk,
        content_type=content_type,
        object_id=str(subject.pk),
        object_repr=str(subject)[:200],
        action_flag=ADDITION if action == "copy" else CHANGE,
        change_message=json.dumps([{ADMIN_LOG_KEY: message}], ensure_ascii=False),
    )


def audit_trail_for(subject: models.Model) -> models.QuerySet[AuditLog]:
    return AuditLog.objects.filter(
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=True),
        object_id=subject.pk,
    ).select_related("actor", "content_type")


def audit_record_about(
    *, model: type[models.Model], object_id: int, actor: Any, action: str, data: dict[str, Any] | None = None
) -> AuditLog:
    """An audit row about a row that may not exist (``object_id`` 0), such as a sign-in attempt for an
    unknown username."""
    return AuditLog.objects.create(
        content_type=ContentType.objects.get_for_model(model, for_concrete_model=True),
        object_id=object_id,
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        action=action,
        data=data or {},
    )
