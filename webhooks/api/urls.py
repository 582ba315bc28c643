from django.urls import path, re_path

from webhooks.api import staff

# Detail URLs answer with and without a trailing slash.
urlpatterns = [
    path("staff/webhook-endpoints/", staff.EndpointListCreateApi.as_view(), name="staff-webhook-endpoints"),
    re_path(
        r"^staff/webhook-endpoints/(?P<pk>[0-9]{1,18})/?$",
        staff.EndpointDetailApi.as_view(),
        name="staff-webhook-endpoint",
    ),
    re_path(
        r"^staff/webhook-endpoints/(?P<pk>[0-9]{1,18})/rotate-secret/?$",
        staff.EndpointRotateSecretApi.as_view(),
        name="staff-webhook-endpoint-rotate-secret",
    ),
    re_path(
        r"^staff/webhook-endpoints/(?P<pk>[0-9]{1,18})/test/?$",
        staff.EndpointSendTestApi.as_view(),
        name="staff-webhook-endpoint-test",
    ),
    path("staff/webhook-deliveries/", staff.DeliveryListApi.as_view(), name="staff-webhook-deliveries"),
    re_path(
        r"^staff/webhook-deliveries/(?P<pk>[0-9]{1,18})/retry/?$",
        staff.DeliveryRetryApi.as_view(),
        name="staff-webhook-delivery-retry",
    ),
]
