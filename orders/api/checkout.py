"""Customer checkout endpoints: preview a cart with coupons, place an order."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.output import moment, money
from core.api.schema import refuses
from core.api.serializers import StrictSerializer
from core.choices import Channel
from core.errors import NotFound
from core.idempotency import idempotent
from orders import services
from orders.api.orders import OrderOutputSerializer
from orders.errors import CartTooLarge, CouponNotUsable, UnknownSku
from orders.pricing import reason_payload
from orders.selectors import order_detail
from orders.services.checkout import MAX_COUPONS_CHOSEN, MAX_LINE_QUANTITY, MAX_LINES

# Coupon ids are BIGINT primary keys; anything larger cannot name a coupon.
MAX_ID = 2**63 - 1


class CartLineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


class CartInputSerializer(StrictSerializer):
    lines = CartLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]
    channel = serializers.ChoiceField(choices=Channel.choices)
    coupon_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=MAX_COUPONS_CHOSEN
    )


# The preview lists every coupon of the customer (hundreds): its rows are written directly
# (``core.api.output``), the serializers below describe them for the schema and write the same values.


def gift_payload(gift: Any) -> dict[str, Any]:
    return {
        "sku": gift.sku,
        "name": gift.name,
        "quantity": gift.quantity,
        "unit_worth": money(gift.unit_worth),
        "worth": money(gift.worth),
    }


class GiftOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_worth = serializers.DecimalField(max_digits=12, decimal_places=2)
    worth = serializers.DecimalField(max_digits=12, decimal_places=2)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return gift_payload(instance)


class AppliedCouponOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="coupon_id")
    type = serializers.CharField(source="coupon_type")
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    gift_worth = serializers.SerializerMethodField()
    allocation = serializers.DictField(child=serializers.DecimalField(max_digits=12, decimal_places=2))
    gifts = GiftOutputSerializer(many=True)

    def get_gift_worth(self, result) -> str:
        return str(result.benefit - result.discount)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "id": instance.coupon_id,
            "type": instance.coupon_type,
            "discount": money(instance.discount),
            "gift_worth": self.get_gift_worth(instance),
            "allocation": {str(key): money(amount) for key, amount in instance.allocation.items()},
            "gifts": [gift_payload(gift) for gift in instance.gifts],
        }


class ReasonOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


@extend_schema_field(ReasonOutputSerializer(many=True))
class ReasonsField(serializers.Field):
    """Engine reasons rendered as ``[{"code", "message"}]`` in the request's language."""

    def to_representation(self, reasons) -> list[dict[str, str]]:
        return [reason_payload(reason) for reason in reasons]


class PreviewLineOutputSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    name = serializers.CharField(source="product.name")
    category = serializers.CharField(source="product.category_code")
    unit_price = serializers.DecimalField(source="product.price", max_digits=12, decimal_places=2)
    quantity = serializers.IntegerField()
    line_subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        product = instance.product
        return {
            "sku": product.sku,
            "name": product.name,
            "category": product.category_code,
            "unit_price": money(product.price),
            "quantity": instance.quantity,
            "line_subtotal": money(instance.line_subtotal),
        }


class _ApplicationOutputSerializer(serializers.Serializer):
    coupons = AppliedCouponOutputSerializer(many=True)
    discount_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    gift_worth = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    gifts = GiftOutputSerializer(many=True)


class CombinationOutputSerializer(_ApplicationOutputSerializer):
    """An engine ``Application``: the coupons applied and what they took."""

    coupon_ids = serializers.ListField(child=serializers.IntegerField())


class RefusedCouponOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reasons = ReasonsField()


class ChoiceOutputSerializer(_ApplicationOutputSerializer):
    """The customer's choice: ``coupon_ids`` as chosen; when ``usable`` is false nothing is applied
    and ``refused`` lists why, per coupon."""

    coupon_ids = serializers.SerializerMethodField()
    usable = serializers.BooleanField(source="ok")
    line_discounts = serializers.DictField(child=serializers.DecimalField(max_digits=12, decimal_places=2))
    refused = serializers.SerializerMethodField()

    def get_coupon_ids(self, application) -> list[int]:
        return list(self.context["chosen_ids"])

    @extend_schema_field(RefusedCouponOutputSerializer(many=True))
    def get_refused(self, application) -> list[dict]:
        return [
            {"id": coupon_id, "reasons": [reason_payload(reason) for reason in reasons]}
            for coupon_id, reasons in sorted(application.refused.items())
        ]


class CouponOptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="coupon.id")
    code = serializers.CharField(source="coupon.code")
    template_id = serializers.IntegerField(source="coupon.template_id")
    name = serializers.CharField(source="coupon.name")
    short_name = serializers.CharField(source="coupon.short_name")
    type = serializers.CharField(source="coupon.type")
    expires_at = serializers.DateTimeField(source="coupon.expires_at")
    usable = serializers.BooleanField()
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    gift_worth = serializers.DecimalField(max_digits=12, decimal_places=2)
    gifts = GiftOutputSerializer(many=True)
    reasons = ReasonsField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        coupon = instance.coupon
        return {
            "id": coupon.id,
            "code": coupon.code,
            "template_id": coupon.template_id,
            "name": coupon.name,
            "short_name": coupon.short_name,
            "type": coupon.type,
            "expires_at": moment(coupon.expires_at),
            "usable": instance.usable,
            "discount": money(instance.discount),
            "gift_worth": money(instance.gift_worth),
            "gifts": [gift_payload(gift) for gift in instance.gifts],
            "reasons": [reason_payload(reason) for reason in instance.reasons],
        }


class CheckoutPreviewApi(APIView):
    """Price a cart with the customer's coupons. Changes nothing (so it takes no Idempotency-Key).

    ``coupons`` lists every UNUSED coupon of the customer (those past expiry too, with reason
    EXPIRED), usable ones first; ``best`` is the combination with the largest benefit; with
    ``coupon_ids``, ``applied`` is that choice, or its refusal with reasons per coupon (absent without
    ``coupon_ids``). A sku listed on several lines is merged into one line.
    """

    class OutputSerializer(serializers.Serializer):
        lines = PreviewLineOutputSerializer(many=True)
        subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
        best = CombinationOutputSerializer()
        coupons = CouponOptionOutputSerializer(many=True)
        applied = ChoiceOutputSerializer(required=False)

    @extend_schema(request=CartInputSerializer, responses={200: OutputSerializer})
    @refuses(UnknownSku, CartTooLarge, NotFound)
    def post(self, request):
        data = CartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.checkout_preview(user=request.user, **data.validated_data)
        body = self.OutputSerializer(result, context={"chosen_ids": result.chosen_ids or ()}).data
        if result.applied is None:
            body.pop("applied")
        return Response(body)


class OrderPlaceApi(APIView):
    """Place an order: one transaction that re-checks the chosen coupons under lock and locks them to
    the order (PENDING_PAYMENT). ``"auto_coupons": true`` applies the best combination instead of
    ``coupon_ids``. 409 ``COUPON_NOT_USABLE`` lists the reasons per coupon; 404 for a coupon that is
    not the customer's. Unit prices come from the menu. Accepts an ``Idempotency-Key``."""

    class InputSerializer(CartInputSerializer):
        auto_coupons = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=InputSerializer, responses={201: OrderOutputSerializer})
    @refuses(UnknownSku, CartTooLarge, NotFound, CouponNotUsable)
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_place(user=request.user, **data.validated_data)
        return Response(OrderOutputSerializer(order_detail(pk=order.pk)).data, status=status.HTTP_201_CREATED)
