"""Staff endpoints for webhooks: the same services and permissions as admin."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import Pagination
from core.api.permissions import HasModelPerm
from core.api.schema import refuses
from core.api.serializers import QuerySerializer, StrictSerializer
from core.errors import InvalidTransition
from core.idempotency import idempotent
from webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint
from webhooks.selectors import deliveries_for_staff, endpoints_for_staff
from webhooks.services import endpoints as services
from webhooks.services.delivery import delivery_retry_now
from webhooks.tasks import enqueue_delivery


class EndpointOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices))
    is_active = serializers.BooleanField()
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    secret_rotated_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class EndpointWithSecretOutputSerializer(EndpointOutputSerializer):
    secret = serializers.CharField(help_text="The signing secret, shown only in this answer.")


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.UUIDField()
    event_type = serializers.CharField()
    endpoint_id = serializers.IntegerField()
    payload = serializers.JSONField()
    occurred_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    last_latency_ms = serializers.IntegerField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class EndpointInputSerializer(StrictSerializer):
    # http(s) only; the service checks the rest of the address
    url = serializers.RegexField(r"^https?://[^\s/?#]+[^\s]*\Z", max_length=services.URL_MAX)
    description = serializers.CharField(max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), min_length=1, max_length=len(EventType.choices)
    )
    is_active = serializers.BooleanField(required=False)


class EndpointListCreateApi(APIView):
    permission_classes = [HasModelPerm]
    required_perm = "webhooks.view_webhookendpoint"
    pagination_class = Pagination

    @extend_schema(responses=EndpointOutputSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(endpoints_for_staff(), request, view=self)
        return paginator.get_paginated_response(EndpointOutputSerializer(page, many=True).data)

    @extend_schema(request=EndpointInputSerializer, responses={201: EndpointWithSecretOutputSerializer})
    @idempotent
    def post(self, request):
        data = EndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(actor=request.user, **data.validated_data)
        return Response(EndpointWithSecretOutputSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailApi(APIView):
    permission_classes = [HasModelPerm]
    required_perm = "webhooks.view_webhookendpoint"

    @extend_schema(responses=EndpointOutputSerializer)
    def get(self, request, pk: int):
        return Response(EndpointOutputSerializer(get_object_or_404(endpoints_for_staff(), pk=pk)).data)

    @extend_schema(request=EndpointInputSerializer(partial=True), responses=EndpointOutputSerializer)
    def patch(self, request, pk: int):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        data = EndpointInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, actor=request.user, **data.validated_data)
        return Response(EndpointOutputSerializer(endpoint).data)

    @extend_schema(
        request=None,
        responses=EndpointOutputSerializer,
        description="Deactivate: nothing more is sent to the endpoint (its deliveries not sent yet end FAILED).",
    )
    def delete(self, request, pk: int):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        endpoint = services.endpoint_deactivate(endpoint=endpoint, actor=request.user)
        return Response(EndpointOutputSerializer(endpoint).data)


class EndpointRotateSecretApi(APIView):
    permission_classes = [HasModelPerm]
    required_perm = "webhooks.change_webhookendpoint"

    @extend_schema(request=None, responses=EndpointWithSecretOutputSerializer)
    @idempotent
    def post(self, request, pk: int):
        endpoint = services.endpoint_rotate_secret(
            endpoint=get_object_or_404(WebhookEndpoint, pk=pk), actor=request.user
        )
        return Response(EndpointWithSecretOutputSerializer(endpoint).data)


class EndpointSendTestApi(APIView):
    permission_classes = [HasModelPerm]
    required_perm = "webhooks.change_webhookendpoint"

    @extend_schema(request=None, responses={202: DeliveryOutputSerializer})
    @idempotent
    def post(self, request, pk: int):
        delivery = services.endpoint_send_test(endpoint=get_object_or_404(WebhookEndpoint, pk=pk), actor=request.user)
        enqueue_delivery(delivery.pk)
        return Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryListApi(APIView):
    permission_classes = [HasModelPerm]
    required_perm = "webhooks.view_webhookdelivery"
    pagination_class = Pagination

    class FilterSerializer(QuerySerializer):
        status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
        event_type = serializers.ChoiceField(choices=EventType.choices, required=False)
        endpoint_id = serializers.IntegerField(min_value=1, max_value=2**62, required=False)

    @extend_schema(parameters=[FilterSerializer], responses=DeliveryOutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(deliveries_for_staff(**filters.validated_data), request, view=self)
        return paginator.get_paginated_response(DeliveryOutputSerializer(page, many=True).data)


class DeliveryRetryApi(APIView):
    permission_classes = [HasModelPerm]
    required_perm = "webhooks.retry_webhookdelivery"

    @extend_schema(request=None, responses=DeliveryOutputSerializer)
    @refuses(InvalidTransition)  # a delivery that was delivered already, or whose endpoint is deactivated
    @idempotent
    def post(self, request, pk: int):
        delivery = delivery_retry_now(delivery=get_object_or_404(WebhookDelivery, pk=pk), actor=request.user)
        enqueue_delivery(delivery.pk)
        return Response(DeliveryOutputSerializer(delivery).data)
