"""How audit rows and admin-log entries read: translated actions, status labels instead of codes, the
object's name instead of its id."""

import json
from typing import Any

from django.contrib.admin.models import LogEntry
from django.utils.translation import gettext

from core.actions import action_label, status_label
from core.audit import ADMIN_LOG_KEY


def workflow_message(*, action: str, from_label: str, to_label: str, remark: str) -> str:
    text = action_label(action)
    text = text[:1].upper() + text[1:]
    if from_label and to_label and from_label != to_label:
        text = gettext("%(action)s: %(from)s → %(to)s") % {"action": text, "from": from_label, "to": to_label}
    elif to_label:
        text = gettext("%(action)s: %(to)s") % {"action": text, "to": to_label}
    if remark:
        text = gettext("%(message)s (remark: %(remark)s)") % {"message": text, "remark": remark}
    return text


def admin_log_message(entry: LogEntry) -> str:
    """A history line in the reader's language: workflow entries written by ``core.audit`` are rendered
    from their parts, anything else as Django renders it."""
    try:
        parts = json.loads(entry.change_message) if entry.change_message.startswith("[") else None
    except ValueError:
        parts = None
    if not parts or not isinstance(parts[0], dict) or ADMIN_LOG_KEY not in parts[0]:
        return entry.get_change_message()
    data: dict[str, Any] = parts[0][ADMIN_LOG_KEY]
    model = entry.content_type.model_class() if entry.content_type_id else None
    return workflow_message(
        action=str(data.get("action", "")),
        from_label=status_label(model, str(data.get("from", ""))),
        to_label=status_label(model, str(data.get("to", ""))),
        remark=str(data.get("remark", "")),
    )
