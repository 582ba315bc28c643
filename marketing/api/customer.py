"""Customer endpoints of marketing: activities and notifications."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import Pagination
from core.api.schema import refuses
from core.api.serializers import QuerySerializer
from core.choices import Channel
from core.errors import NotFound
from core.idempotency import idempotent
from coupons.api.customer import CouponOutputSerializer, no_input
from coupons.ledger import LimitReached, NotClaimable, NotEligible, SoldOut
from marketing.models import Notification
from marketing.notifications import text_for_reader
from marketing.selectors import activities_live, notifications_for
from marketing.services.activities import activity_claim


class ActivityListApi(APIView):
    pagination_class = Pagination

    class FilterSerializer(QuerySerializer):
        channel = serializers.ChoiceField(choices=Channel.choices, required=False)

    class OutputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            template_id = serializers.IntegerField()
            name = serializers.CharField(source="template.name")
            short_name = serializers.CharField(source="template.short_name")
            type = serializers.CharField(source="template.type")
            value = serializers.JSONField(source="template.value")
            quantity = serializers.IntegerField()

        id = serializers.IntegerField()
        title = serializers.CharField()
        intro = serializers.CharField()
        image = serializers.FileField(allow_null=True)
        start_time = serializers.DateTimeField()
        end_time = serializers.DateTimeField()
        channel = serializers.CharField()
        per_user_limit = serializers.IntegerField()
        items = ItemSerializer(many=True, source="items.all")

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(activities_live(**filters.validated_data), request, view=self)
        # With the request, a picture's address is absolute (``format: uri``), as the schema says.
        rows = self.OutputSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(rows)


class ActivityClaimApi(APIView):
    @extend_schema(
        request=None,
        responses={201: inline_serializer("ActivityClaim", {"coupons": CouponOutputSerializer(many=True)})},
    )
    @refuses(NotFound, SoldOut, LimitReached, NotClaimable, NotEligible)
    @idempotent
    def post(self, request, pk: int):
        no_input(request)
        coupons = activity_claim(user=request.user, activity_id=pk)
        return Response({"coupons": CouponOutputSerializer(coupons, many=True).data}, status=status.HTTP_201_CREATED)


class NotificationListApi(APIView):
    pagination_class = Pagination

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        kind = serializers.CharField()
        title = serializers.SerializerMethodField(help_text="In the reader's language.")
        body = serializers.SerializerMethodField(help_text="In the reader's language.")
        data = serializers.JSONField()  # type: ignore[assignment]
        created_at = serializers.DateTimeField()
        read_at = serializers.DateTimeField(allow_null=True)

        def get_title(self, notification: Notification) -> str:
            return text_for_reader(notification)["title"]

        def get_body(self, notification: Notification) -> str:
            return text_for_reader(notification)["body"]

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(notifications_for(user=request.user), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
