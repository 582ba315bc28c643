from django.urls import path

from core.api.routes import slash_optional
from webhooks.api import staff

# Detail and action URLs answer with and without a trailing slash.
urlpatterns = [
    path("staff/webhook-endpoints/", staff.EndpointListCreateApi.as_view(), name="staff-webhook-endpoints"),
    slash_optional(
        "staff/webhook-endpoints/<int:pk>", staff.EndpointDetailApi.as_view(), name="staff-webhook-endpoint"
    ),
    slash_optional(
        "staff/webhook-endpoints/<int:pk>/rotate-secret",
        staff.EndpointRotateSecretApi.as_view(),
        name="staff-webhook-endpoint-rotate-secret",
    ),
    slash_optional(
        "staff/webhook-endpoints/<int:pk>/test",
        staff.EndpointSendTestApi.as_view(),
        name="staff-webhook-endpoint-test",
    ),
    path("staff/webhook-deliveries/", staff.DeliveryListApi.as_view(), name="staff-webhook-deliveries"),
    slash_optional(
        "staff/webhook-deliveries/<int:pk>/retry",
        staff.DeliveryRetryApi.as_view(),
        name="staff-webhook-delivery-retry",
    ),
]
