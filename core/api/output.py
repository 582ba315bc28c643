"""Values as DRF's output fields write them, for answers built directly.

A hot answer with many rows (the checkout preview's 200 coupons, the claim) is written as plain dicts: a
field-by-field serializer pass costs more than the work behind the answer. Its serializer stays, for the
schema; these helpers keep the values identical to what the fields would write (tests compare both).
"""

from __future__ import annotations

import decimal
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

_CENT = Decimal("0.01")
# DRF quantizes in a copy of the thread's context with the precision set to max_digits (12 for money).
_MONEY_CONTEXT = decimal.Context(prec=12)
_DATETIME = serializers.DateTimeField()


def money(value: Any) -> str:
    """``DecimalField(max_digits=12, decimal_places=2)``, coerced to a string: ``"12.50"``."""
    if value is None:
        return ""
    if not isinstance(value, Decimal):
        value = Decimal(str(value).strip())
    return f"{value.quantize(_CENT, context=_MONEY_CONTEXT):f}"


def moment(value: datetime | None, zone: tzinfo | None = None) -> str | None:
    """``DateTimeField``: ISO 8601 in the current time zone (``zone``, when the caller has read it for
    several values), ``Z`` for UTC."""
    if not value:
        return None
    if timezone.is_naive(value):
        return _DATETIME.to_representation(value)
    text = value.astimezone(zone or timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class AuditEntryOutputSerializer(serializers.Serializer):
    """One row of an object's audit trail (``core.audit.audit_trail_for``), as staff detail answers carry it."""

    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)
    action = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    remark = serializers.CharField()
    details = serializers.JSONField(source="data")
    created_at = serializers.DateTimeField()
