from django.urls import include, path

urlpatterns = [
    path("", include("coupons.api.staff_urls")),
]
