"""What the admin index shows of marketing: the bulk grants in flight (added by ``MarketingConfig.ready``)."""

from typing import Any

from coupons.charts import progress_bar
from marketing.models import BulkGrant, BulkGrantStatus


def dashboard_context() -> dict[str, Any]:
    grants = [
        {
            "grant": grant,
            "progress": progress_bar(
                grant.granted + grant.skipped_limit + grant.skipped_stock + grant.failed, grant.targeted
            ),
        }
        for grant in BulkGrant.objects.filter(
            status__in=[BulkGrantStatus.RUNNING, BulkGrantStatus.APPROVED, BulkGrantStatus.PENDING_REVIEW]
        ).order_by("-updated_at")[:10]
    ]
    return {"active_grants": grants}
