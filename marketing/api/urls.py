from django.urls import path

from core.api.routes import slash_optional
from marketing.api import customer
from marketing.api import staff_bulk_grants as bulk
from marketing.api.auth import RegisterApi, TokenApi

# Detail and action URLs answer with and without a trailing slash.
urlpatterns = [
    slash_optional("auth/register", RegisterApi.as_view(), name="auth-register"),
    slash_optional("auth/token", TokenApi.as_view(), name="auth-token"),
    path("activities/", customer.ActivityListApi.as_view(), name="activities"),
    slash_optional("activities/<int:pk>/claim", customer.ActivityClaimApi.as_view(), name="activity-claim"),
    path("me/notifications/", customer.NotificationListApi.as_view(), name="notifications"),
    path("staff/bulk-grants/", bulk.BulkGrantListCreateApi.as_view(), name="staff-bulk-grants"),
    slash_optional("staff/bulk-grants/<int:pk>", bulk.BulkGrantDetailApi.as_view(), name="staff-bulk-grant"),
    slash_optional(
        "staff/bulk-grants/<int:pk>/submit", bulk.BulkGrantSubmitApi.as_view(), name="staff-bulk-grant-submit"
    ),
    slash_optional(
        "staff/bulk-grants/<int:pk>/approve", bulk.BulkGrantApproveApi.as_view(), name="staff-bulk-grant-approve"
    ),
    slash_optional(
        "staff/bulk-grants/<int:pk>/reject", bulk.BulkGrantRejectApi.as_view(), name="staff-bulk-grant-reject"
    ),
    slash_optional(
        "staff/bulk-grants/<int:pk>/cancel", bulk.BulkGrantCancelApi.as_view(), name="staff-bulk-grant-cancel"
    ),
]
