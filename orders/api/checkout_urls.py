from django.urls import path

from core.api.routes import slash_optional
from orders.api import checkout, orders

# Detail and action URLs answer with and without a trailing slash.
urlpatterns = [
    slash_optional("checkout/preview", checkout.CheckoutPreviewApi.as_view(), name="checkout-preview"),
    path("orders/", checkout.OrderPlaceApi.as_view(), name="orders"),
    slash_optional("orders/<int:pk>", orders.OrderDetailApi.as_view(), name="order-detail"),
    slash_optional("orders/<int:pk>/pay", orders.OrderPayApi.as_view(), name="order-pay"),
    slash_optional("orders/<int:pk>/cancel", orders.OrderCancelApi.as_view(), name="order-cancel"),
    slash_optional("orders/<int:pk>/refund", orders.OrderRefundApi.as_view(), name="order-refund"),
    path("me/orders/", orders.MyOrdersApi.as_view(), name="my-orders"),
]
