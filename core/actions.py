"""Names of workflow actions and statuses as people read them (error messages say "cannot approve",
translated; the audit trail and the admin history show them the same way)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    "submit": _("submit"),
    "approve": _("approve"),
    "reject": _("reject"),
    "stop": _("stop"),
    "end": _("end"),
    "publish": _("publish"),
    "cancel": _("cancel"),
    "copy": _("copy"),
    "create": _("create"),
    "edit": _("edit"),
    "update": _("update"),
    "deactivate": _("deactivate"),
    "grant": _("grant"),
    "run": _("run"),
    "finish": _("finish"),
    "place": _("place"),
    "pay": _("pay"),
    "refund": _("refund"),
    "complete": _("complete"),
    "retry": _("retry"),
    "rotate_secret": _("rotate secret"),
    "send_test": _("send a test"),
    "login_failed": _("failed login"),
    "login_locked": _("login locked"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def status_label(model: type[models.Model] | None, value: str) -> str:
    """The label of ``value`` among the choices of ``model``'s fields (status, level, ...), or the value."""
    if not value or model is None:
        return value
    for field in model._meta.get_fields():
        for key, label in getattr(field, "flatchoices", None) or ():
            if key == value:
                return str(label)
    return value
