"""Who may open a template's workflow page (submit, approve, reject, stop, copy) right now.

Admin views call ``require_template_action`` before rendering the confirmation form, so the page itself
is refused (403), not only its POST, to whoever may not take the action; the service checks again.
"""

from typing import Any

from django.core.exceptions import PermissionDenied

from coupons.models import CouponTemplate
from coupons.services.templates import TRANSITIONS, can_transition

# Actions a person takes on a template (``end`` belongs to the scheduled job).
PERSON_ACTIONS = ("submit", "approve", "reject", "stop", "copy")


def template_action_allowed(*, template: CouponTemplate, action: str, user: Any) -> bool:
    if action not in PERSON_ACTIONS or user is None or not user.is_active or not user.is_staff:
        return False
    if action == "copy":
        return bool(user.has_perm("coupons.add_coupontemplate"))
    return action in TRANSITIONS and can_transition(template, action, user)


def require_template_action(*, template: CouponTemplate, action: str, user: Any) -> None:
    if not template_action_allowed(template=template, action=action, user=user):
        raise PermissionDenied
