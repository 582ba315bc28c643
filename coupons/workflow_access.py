"""Who may open a template's workflow page (submit, approve, reject, stop, copy) right now.

Admin views ask ``template_action_refusal`` before rendering the confirmation form. Whoever may never take
the action (no permission, not active staff) is refused the page itself (403), not only its POST; whoever
may, on a template that has moved on since their page was drawn (approved by a colleague, say) or that they
had a hand in, is told why on the template's page. The service checks again on every POST.
"""

from typing import Any

from django.utils.translation import gettext as _

from core.errors import ApplicationError, PermissionDeniedError
from coupons.models import CouponTemplate
from coupons.services.templates import TRANSITIONS, transition_refusal

# Actions a person takes on a template (``end`` belongs to the scheduled job).
PERSON_ACTIONS = ("submit", "approve", "reject", "stop", "copy")


def template_action_refusal(*, template: CouponTemplate, action: str, user: Any) -> ApplicationError | None:
    """Why ``user`` may not take ``action`` on ``template`` as read: None when they may."""
    if action not in PERSON_ACTIONS or user is None or not user.is_active or not user.is_staff:
        return PermissionDeniedError(_("You do not have permission to do this."))
    if action == "copy":
        if user.has_perm("coupons.add_coupontemplate"):
            return None
        return PermissionDeniedError(_("You do not have permission to do this."))
    if action not in TRANSITIONS:
        return PermissionDeniedError(_("You do not have permission to do this."))
    return transition_refusal(template, action, user)


def template_action_allowed(*, template: CouponTemplate, action: str, user: Any) -> bool:
    return template_action_refusal(template=template, action=action, user=user) is None
