from django.urls import path

from orders.api import checkout, orders

urlpatterns = [
    path("checkout/preview", checkout.CheckoutPreviewApi.as_view(), name="checkout-preview"),
    path("orders/", checkout.OrderPlaceApi.as_view(), name="orders"),
    path("orders/<int:pk>", orders.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<int:pk>/pay", orders.OrderPayApi.as_view(), name="order-pay"),
    path("orders/<int:pk>/cancel", orders.OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<int:pk>/refund", orders.OrderRefundApi.as_view(), name="order-refund"),
    path("me/orders/", orders.MyOrdersApi.as_view(), name="my-orders"),
]
