"""Scheduled coupon jobs: thin tasks over services."""

from core.jobs import scheduled_job
from coupons.ledger import coupons_expire_due
from coupons.services.stats import stats_rollup_recent
from coupons.services.templates import templates_end_due


@scheduled_job("coupons.expire_coupons")
def expire_coupons() -> int:
    return coupons_expire_due().changed


@scheduled_job("coupons.end_templates")
def end_templates() -> int:
    return templates_end_due()


@scheduled_job("coupons.rollup_stats")
def rollup_stats() -> int:
    return stats_rollup_recent()
