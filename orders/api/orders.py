"""Customer order endpoints: read an order, list one's orders, pay, cancel, refund.

Another customer's order is 404, never 403. There is no payment provider yet: ``pay`` and ``refund``
stand for the provider's confirmation of a payment or a refund, so a real integration would call the
same services from its webhook instead of the customer calling them.
"""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import Pagination
from core.api.schema import refuses
from core.api.serializers import QuerySerializer, StrictSerializer
from core.errors import NotFound
from core.idempotency import idempotent
from coupons.api.customer import no_input
from orders import services
from orders.errors import InvalidOrderTransition
from orders.models import Order, OrderStatus
from orders.selectors import order_detail, order_of, orders_for
from orders.services.lifecycle import cancel_reason_text


class OrderLineOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField(source="category_code")
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    line_subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    is_gift = serializers.BooleanField()
    gift_coupon_id = serializers.IntegerField(allow_null=True)


class OrderCouponOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="coupon_id")
    code = serializers.CharField(source="coupon.code")
    template_id = serializers.IntegerField(source="coupon.template_id")
    name = serializers.CharField(source="coupon.template.name")
    type = serializers.CharField(source="coupon.template.type")
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    gift_worth = serializers.DecimalField(max_digits=12, decimal_places=2)
    allocation = serializers.JSONField()


class OrderGiftOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    coupon_id = serializers.IntegerField()
    worth = serializers.DecimalField(max_digits=12, decimal_places=2)


class OrderOutputSerializer(serializers.ModelSerializer):
    """An order with its breakdown. Expects ``lines`` and ``applied_coupons`` prefetched
    (``orders.selectors.order_detail`` / ``orders_for``)."""

    lines = OrderLineOutputSerializer(many=True)
    coupons = OrderCouponOutputSerializer(source="applied_coupons", many=True)
    gifts = serializers.SerializerMethodField()
    cancel_reason = serializers.SerializerMethodField(
        help_text="Why the order was cancelled: as the customer or staff member typed it, or the system's reason "
        "(the payment timeout, a staff cancel) in the reader's language."
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "channel",
            "subtotal",
            "discount_total",
            "total",
            "lines",
            "coupons",
            "gifts",
            "created_at",
            "paid_at",
            "cancelled_at",
            "refunded_at",
            "cancel_reason",
        ]

    def get_cancel_reason(self, order: Order) -> str:
        return cancel_reason_text(order.cancel_reason)

    @extend_schema_field(OrderGiftOutputSerializer(many=True))
    def get_gifts(self, order: Order) -> list[dict[str, Any]]:
        worth = {applied.coupon_id: applied.gift_worth for applied in order.applied_coupons.all()}
        return [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "coupon_id": line.gift_coupon_id,
                "worth": str(worth.get(line.gift_coupon_id or 0, "0.00")),
            }
            for line in order.lines.all()
            if line.is_gift
        ]


def _own_order(request, pk: int, *, details: bool = False) -> Order:
    order = order_detail(pk=pk, user=request.user) if details else order_of(user=request.user, pk=pk)
    if order is None:
        raise NotFound(_("Not found."))
    return order


class OrderDetailApi(APIView):
    @extend_schema(responses=OrderOutputSerializer)
    def get(self, request, pk: int):
        return Response(OrderOutputSerializer(_own_order(request, pk, details=True)).data)


class MyOrdersApi(APIView):
    pagination_class = Pagination

    class FilterSerializer(QuerySerializer):
        status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)

    @extend_schema(parameters=[FilterSerializer], responses=OrderOutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(orders_for(user=request.user, **filters.validated_data), request, view=self)
        return paginator.get_paginated_response(OrderOutputSerializer(page, many=True).data)


class OrderPayApi(APIView):
    """Pay an order: its coupons become USED; the customer's first paid order fires the
    FIRST_ORDER_PAID gift pack. No payment provider yet: this call stands for the provider's
    confirmation. 409 ``INVALID_STATE`` unless the order is PENDING_PAYMENT."""

    @extend_schema(request=None, responses=OrderOutputSerializer)
    @refuses(InvalidOrderTransition)
    @idempotent
    def post(self, request, pk: int):
        no_input(request)
        services.order_pay(order=_own_order(request, pk), actor=request.user)
        return Response(OrderOutputSerializer(order_detail(pk=pk)).data)


class OrderCancelApi(APIView):
    """Cancel an unpaid order: coupons go back to the wallet (``return_on_cancel``; EXPIRED if their
    time ran out meanwhile; forfeited as REVOKED when the template does not return them).
    409 ``INVALID_STATE`` unless the order is PENDING_PAYMENT."""

    class InputSerializer(StrictSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    @extend_schema(request=InputSerializer, responses=OrderOutputSerializer)
    @refuses(InvalidOrderTransition)
    @idempotent
    def post(self, request, pk: int):
        order = _own_order(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.order_cancel(order=order, actor=request.user, reason=data.validated_data["reason"])
        return Response(OrderOutputSerializer(order_detail(pk=pk)).data)


class OrderRefundApi(APIView):
    """Refund a paid order. No payment provider yet: this call stands for the provider's refund
    confirmation. The coupons stay USED. 409 ``INVALID_STATE`` unless the order is PAID."""

    class InputSerializer(StrictSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    @extend_schema(request=InputSerializer, responses=OrderOutputSerializer)
    @refuses(InvalidOrderTransition)
    @idempotent
    def post(self, request, pk: int):
        order = _own_order(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.order_refund(order=order, actor=request.user, reason=data.validated_data["reason"])
        return Response(OrderOutputSerializer(order_detail(pk=pk)).data)
