from django.urls import include, path

from orders.api import menu

urlpatterns = [
    path("menu/", menu.MenuApi.as_view(), name="menu"),
    path("staff/categories/", menu.CategoryListApi.as_view(), name="staff-categories"),
    path("staff/categories/<slug:code>", menu.CategoryDetailApi.as_view(), name="staff-category"),
    path("staff/products/", menu.ProductListApi.as_view(), name="staff-products"),
    path("staff/products/<slug:sku>", menu.ProductDetailApi.as_view(), name="staff-product"),
    path("", include("orders.api.checkout_urls")),
]
