from django.urls import include, path

from core.api.routes import slash_optional
from orders.api import menu

# Detail and action URLs answer with and without a trailing slash.
urlpatterns = [
    path("menu/", menu.MenuApi.as_view(), name="menu"),
    path("staff/categories/", menu.CategoryListApi.as_view(), name="staff-categories"),
    slash_optional("staff/categories/<slug:code>", menu.CategoryDetailApi.as_view(), name="staff-category"),
    path("staff/products/", menu.ProductListApi.as_view(), name="staff-products"),
    slash_optional("staff/products/<slug:sku>", menu.ProductDetailApi.as_view(), name="staff-product"),
    path("", include("orders.api.checkout_urls")),
]
