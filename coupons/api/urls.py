from django.urls import include, path

urlpatterns = [
    path("", include("coupons.api.staff_urls")),
    path("", include("coupons.api.customer_urls")),
]
