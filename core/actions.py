"""Names of workflow actions as people read them (error messages say "cannot approve", translated)."""

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
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))
