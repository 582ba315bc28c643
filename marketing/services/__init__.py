from .activities import activity_cancel, activity_claim, activity_end, activity_publish
from .bulk_grants import (
    bulk_grant_approve,
    bulk_grant_cancel,
    bulk_grant_create,
    bulk_grant_reject,
    bulk_grant_run,
    bulk_grant_submit,
    bulk_grant_update,
)
from .gift_packs import fire_trigger, grant_pack

__all__ = [
    "activity_cancel",
    "activity_claim",
    "activity_end",
    "activity_publish",
    "bulk_grant_approve",
    "bulk_grant_cancel",
    "bulk_grant_create",
    "bulk_grant_reject",
    "bulk_grant_run",
    "bulk_grant_submit",
    "bulk_grant_update",
    "fire_trigger",
    "grant_pack",
]
