"""Customer endpoints of distribution: claim center, claim, wallet, redemption codes."""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.output import moment, money
from core.api.pagination import Pagination
from core.api.schema import refuses
from core.api.serializers import QuerySerializer, StrictSerializer
from core.clients import client_address
from core.errors import NotFound, TooManyRequests
from core.idempotency import idempotent, key_record
from coupons.ledger import LimitReached, NotClaimable, NotEligible, SoldOut
from coupons.models import CouponStatus, UserCoupon
from coupons.selectors import claimable_templates_for, wallet_counts, wallet_for
from coupons.services.claim import coupon_claim
from coupons.services.codes import InvalidCode, code_redeem
from coupons.summary import summaries_for, template_summary


def coupon_payload(coupon: UserCoupon, summary: str | None = None) -> dict[str, Any]:
    """A coupon a customer holds, as every customer endpoint shows it. Built directly: the
    claim endpoint is hot, and a serializer instance per response costs as much as a query. The
    template's summary is kept in memory per template and language (``coupons.summary``)."""
    template = coupon.template
    zone = timezone.get_current_timezone()
    return {
        "id": coupon.pk,
        "code": coupon.code,
        "template_id": coupon.template_id,
        "name": template.name,
        "short_name": template.short_name,
        "type": template.type,
        "value": template.value,
        "summary": template_summary(template) if summary is None else summary,
        "amount": None if coupon.amount is None else money(coupon.amount),
        "status": coupon.effective_status(),
        "valid_from": moment(coupon.valid_from, zone),
        "expires_at": moment(coupon.expires_at, zone),
        "source": coupon.source,
    }


class CouponOutputSerializer(serializers.Serializer):
    """The coupon shape for lists and the schema; ``coupon_payload`` writes it."""

    id = serializers.IntegerField()
    code = serializers.CharField()
    template_id = serializers.IntegerField()
    name = serializers.CharField(source="template.name")
    short_name = serializers.CharField(source="template.short_name")
    type = serializers.CharField(source="template.type")
    value = serializers.JSONField(source="template.value")
    summary = serializers.CharField(help_text="The template's summary in the reader's language.")
    amount = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    status = serializers.SerializerMethodField()
    valid_from = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    source = serializers.CharField()  # type: ignore[assignment]

    def get_status(self, coupon: UserCoupon) -> str:
        return coupon.effective_status()

    def to_representation(self, instance: UserCoupon) -> dict[str, Any]:
        summaries = self.context.get("summaries") or {}
        return coupon_payload(instance, summaries.get(instance.template_id))


class ClaimCenterApi(APIView):
    pagination_class = Pagination

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField(source="template.id")
        name = serializers.CharField(source="template.name")
        short_name = serializers.CharField(source="template.short_name")
        type = serializers.CharField(source="template.type")
        value = serializers.JSONField(source="template.value")
        usage_rules = serializers.JSONField(source="template.usage_rules")
        summary = serializers.SerializerMethodField()
        remaining = serializers.IntegerField(source="template.remaining", allow_null=True)
        claimed_by_me = serializers.IntegerField()
        per_user_limit = serializers.IntegerField(source="template.per_user_limit")
        can_claim = serializers.BooleanField()
        issue_end_time = serializers.DateTimeField(source="template.issue_end_time", allow_null=True)

        def get_summary(self, entry: Any) -> str:
            """The template's summary in the reader's language."""
            return (self.context.get("summaries") or {}).get(entry.template.pk) or template_summary(entry.template)

        def to_representation(self, instance: Any) -> dict[str, Any]:
            """The fields above, written directly (a field-by-field pass costs more than the page's queries)."""
            template = instance.template
            return {
                "id": template.pk,
                "name": template.name,
                "short_name": template.short_name,
                "type": template.type,
                "value": template.value,
                "usage_rules": template.usage_rules,
                "summary": self.get_summary(instance),
                "remaining": template.remaining,
                "claimed_by_me": instance.claimed_by_me,
                "per_user_limit": template.per_user_limit,
                "can_claim": instance.can_claim,
                "issue_end_time": moment(template.issue_end_time),
            }

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(claimable_templates_for(user=request.user), request, view=self)  # type: ignore[arg-type]
        context = {"summaries": summaries_for(entry.template for entry in page or [])}
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True, context=context).data)


def no_input(request: Any) -> None:
    """Endpoints without input still refuse a malformed body (400), as every other endpoint does. A request
    with no body (``Content-Length`` 0 or absent, as DRF reads it) has nothing to parse."""
    if request.META.get("CONTENT_LENGTH", request.META.get("HTTP_CONTENT_LENGTH", 0)) in (0, "0"):
        return
    _ = request.data


class TemplateClaimApi(APIView):
    @extend_schema(request=None, responses={201: CouponOutputSerializer})
    @refuses(NotFound, SoldOut, LimitReached, NotClaimable, NotEligible)
    @idempotent(recorded_with_effect=True)
    def post(self, request, pk: int):
        no_input(request)
        record = key_record(request, answer=coupon_payload)  # written in the claim's own transaction
        coupon = coupon_claim(user=request.user, template_id=pk, record=record)
        return Response(coupon_payload(coupon), status=status.HTTP_201_CREATED)


class WalletPagination(Pagination):
    """A page of the wallet, with ``counts`` per status over the whole wallet."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["counts"] = {
            "type": "object",
            "properties": {status: {"type": "integer"} for status in CouponStatus.values},
            "required": list(CouponStatus.values),
        }
        paginated["required"].append("counts")
        return paginated


class WalletApi(APIView):
    """The customer's coupons with counts per status. An UNUSED coupon past its expiry shows, and is
    counted, as EXPIRED before the sweep job marks it. Not cached: two indexed queries."""

    pagination_class = WalletPagination

    class FilterSerializer(QuerySerializer):
        status = serializers.ChoiceField(choices=CouponStatus.choices, required=False)

    @extend_schema(parameters=[FilterSerializer], responses=CouponOutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            wallet_for(user=request.user, status=filters.validated_data.get("status")), request, view=self
        )
        context = {"summaries": summaries_for(coupon.template for coupon in page or [])}
        response = paginator.get_paginated_response(CouponOutputSerializer(page, many=True, context=context).data)
        response.data["counts"] = wallet_counts(user=request.user)
        return response


class RedeemCodeApi(APIView):
    class InputSerializer(StrictSerializer):
        code = serializers.CharField(max_length=64)  # a string only: StrictSerializer

    @extend_schema(request=InputSerializer, responses={201: CouponOutputSerializer})
    @refuses(InvalidCode, SoldOut, LimitReached, NotClaimable, TooManyRequests)
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = code_redeem(user=request.user, code=data.validated_data["code"], ip=client_address(request))
        return Response(CouponOutputSerializer(coupon).data, status=status.HTTP_201_CREATED)


class BenchNoopApi(APIView):
    """Does nothing, with the claim endpoint's authentication: the claim benchmark's yardstick.
    Mounted only with ``settings.BENCH_NOOP``."""

    @extend_schema(exclude=True)
    def post(self, request, pk: int):
        return Response({"ok": True, "user": request.user.pk}, status=status.HTTP_201_CREATED)
