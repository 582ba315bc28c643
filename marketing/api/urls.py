from django.urls import path

from marketing.api import customer
from marketing.api import staff_bulk_grants as bulk
from marketing.api.auth import RegisterApi, TokenApi

urlpatterns = [
    path("auth/register", RegisterApi.as_view(), name="auth-register"),
    path("auth/token", TokenApi.as_view(), name="auth-token"),
    path("activities/", customer.ActivityListApi.as_view(), name="activities"),
    path("activities/<int:pk>/claim", customer.ActivityClaimApi.as_view(), name="activity-claim"),
    path("me/notifications/", customer.NotificationListApi.as_view(), name="notifications"),
    path("staff/bulk-grants/", bulk.BulkGrantListCreateApi.as_view(), name="staff-bulk-grants"),
    path("staff/bulk-grants/<int:pk>", bulk.BulkGrantDetailApi.as_view(), name="staff-bulk-grant"),
    path("staff/bulk-grants/<int:pk>/submit", bulk.BulkGrantSubmitApi.as_view(), name="staff-bulk-grant-submit"),
    path("staff/bulk-grants/<int:pk>/approve", bulk.BulkGrantApproveApi.as_view(), name="staff-bulk-grant-approve"),
    path("staff/bulk-grants/<int:pk>/reject", bulk.BulkGrantRejectApi.as_view(), name="staff-bulk-grant-reject"),
    path("staff/bulk-grants/<int:pk>/cancel", bulk.BulkGrantCancelApi.as_view(), name="staff-bulk-grant-cancel"),
]
