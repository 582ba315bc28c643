from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.permissions import HasModelPerm
from core.api.serializers import QuerySerializer
from coupons.models import CouponTemplate
from coupons.services.stats import template_stats


class TemplateStatsApi(APIView):
    """Totals from exact counters and the daily series from the roll-up: never a COUNT over instances."""

    permission_classes = [HasModelPerm]
    required_perm = "coupons.view_coupontemplate"

    class FilterSerializer(QuerySerializer):
        days = serializers.IntegerField(required=False, min_value=1, max_value=366, default=30)

    @extend_schema(parameters=[FilterSerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        template = get_object_or_404(CouponTemplate.objects.only("id"), pk=pk)
        return Response(template_stats(template=template, days=filters.validated_data["days"]))
