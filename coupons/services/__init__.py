from coupons.ledger import issue_coupons, issue_now

from .claim import coupon_claim
from .codes import code_batch_create, code_redeem
from .grants import coupons_grant_by_staff
from .templates import (
    template_approve,
    template_copy,
    template_create,
    template_end,
    template_reject,
    template_stop,
    template_submit,
    template_update,
)

__all__ = [
    "code_batch_create",
    "code_redeem",
    "coupon_claim",
    "coupons_grant_by_staff",
    "issue_coupons",
    "issue_now",
    "template_approve",
    "template_copy",
    "template_create",
    "template_end",
    "template_reject",
    "template_stop",
    "template_submit",
    "template_update",
]
