from django.urls import include, path

urlpatterns = [
    path("", include("core.api.urls")),
    path("", include("coupons.api.urls")),
    path("", include("marketing.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("webhooks.api.urls")),
]
