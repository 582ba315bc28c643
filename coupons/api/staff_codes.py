"""Staff endpoints for redemption-code batches: the same service and permissions as admin."""

import json
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import Pagination
from core.api.permissions import HasModelPerm
from core.api.schema import refuses
from core.api.serializers import BoundedDateTimeField, QuerySerializer, StrictSerializer
from core.errors import InvalidTransition, NotFound, PermissionDeniedError
from core.idempotency import idempotent
from coupons.exports import code_batch_csv
from coupons.models import CouponTemplate, RedemptionCodeBatch
from coupons.selectors import code_batches_for_staff
from coupons.services.codes import MAX_BATCH_QUANTITY, code_batch_create


class CodeBatchOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    template_id = serializers.IntegerField()
    template_name = serializers.CharField(source="template.name")
    quantity = serializers.IntegerField()
    redeemed = serializers.IntegerField(default=0)
    expires_at = serializers.DateTimeField(allow_null=True)
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()
    csv_url = serializers.SerializerMethodField()

    def get_csv_url(self, batch: RedemptionCodeBatch) -> str:
        return f"/api/v1/staff/code-batches/{batch.pk}/codes.csv"


class CodeBatchListCreateApi(APIView):
    permission_classes = [HasModelPerm]
    required_perm = "coupons.view_redemptioncodebatch"
    pagination_class = Pagination

    class FilterSerializer(QuerySerializer):
        template_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)

    class InputSerializer(StrictSerializer):
        template_id = serializers.IntegerField(min_value=1, max_value=2**62)
        name = serializers.CharField(max_length=100)
        quantity = serializers.IntegerField(min_value=1, max_value=MAX_BATCH_QUANTITY)
        expires_at = BoundedDateTimeField(
            required=False,
            allow_null=True,
            help_text="At the latest when the template stops issuing coupons (its claim window's end, or a fixed "
            "validity's end). Absent or null: then, or never if the template has no end.",
        )

    @extend_schema(parameters=[FilterSerializer], responses=CodeBatchOutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(code_batches_for_staff(**filters.validated_data), request, view=self)
        return paginator.get_paginated_response(CodeBatchOutputSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CodeBatchOutputSerializer})
    @refuses(NotFound, PermissionDeniedError, InvalidTransition)
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        template = get_object_or_404(CouponTemplate, pk=values["template_id"])
        batch = code_batch_create(
            template=template,
            name=values["name"],
            quantity=values["quantity"],
            expires_at=values.get("expires_at"),
            actor=request.user,
        )
        batch.redeemed = 0  # type: ignore[attr-defined]
        return Response(CodeBatchOutputSerializer(batch).data, status=status.HTTP_201_CREATED)


class CSVRenderer(renderers.BaseRenderer):
    """Lets a client ask for text/csv (the download itself is streamed, not rendered)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data, default=str).encode()


class CodeBatchCsvApi(APIView):
    permission_classes = [HasModelPerm]
    # The codes are bearer money: reading them needs the codes' permission (Operations), not the batches'.
    required_perm = "coupons.view_redemptioncode"
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    def handle_exception(self, exc):
        # An error is the JSON error body, labelled as JSON, whatever the client asked for.
        self.request.accepted_renderer = renderers.JSONRenderer()
        self.request.accepted_media_type = renderers.JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                description="The codes with when and by whom each was redeemed; headers in the reader's language,"
                " times in the business time zone."
            )
        }
    )
    def get(self, request, pk: int):
        batch = get_object_or_404(RedemptionCodeBatch, pk=pk)
        return code_batch_csv(batch)
