from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from core.models import AuditLog


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
    return AuditLog.objects.create(
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=True),
        object_id=subject.pk,
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        action=action,
        from_status=from_status,
        to_status=to_status,
        remark=remark,
        data=data or {},
    )


def audit_trail_for(subject: models.Model) -> models.QuerySet[AuditLog]:
    return AuditLog.objects.filter(
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=True),
        object_id=subject.pk,
    ).select_related("actor")


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
