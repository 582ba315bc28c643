"""Staff endpoints for bulk grants: the same services and permissions as admin."""

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.output import AuditEntryOutputSerializer
from core.api.pagination import Pagination
from core.api.parsers import JSONParser
from core.api.permissions import HasModelPerm, IsStaff
from core.api.schema import refuses
from core.api.serializers import BoundedDateTimeField, QuerySerializer, StrictSerializer, seen_version_field
from core.audit import audit_trail_for
from core.errors import InvalidTransition, PermissionDeniedError, ValidationFailed
from core.idempotency import idempotent
from coupons.models import CouponTemplate
from marketing.models import BulkGrant, BulkGrantStatus, BulkGrantTarget, GiftPack
from marketing.selectors import bulk_grants_for_staff
from marketing.services import bulk_grants as services

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class BulkGrantOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    target_type = serializers.CharField()
    segment = serializers.JSONField()
    template_id = serializers.IntegerField(allow_null=True)
    gift_pack_id = serializers.IntegerField(allow_null=True)
    scheduled_at = serializers.DateTimeField(allow_null=True)
    status = serializers.CharField()
    targeted = serializers.IntegerField()
    granted = serializers.IntegerField()
    skipped_limit = serializers.IntegerField()
    skipped_stock = serializers.IntegerField()
    failed = serializers.IntegerField()
    progress = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    reviewed_by = serializers.CharField(source="reviewed_by.username", default=None, allow_null=True)
    review_remark = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.SerializerMethodField(help_text="Why the run failed, in the reader's language.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(help_text="The version a review names (``updated_at`` of approve, reject).")

    def get_progress(self, grant: BulkGrant) -> float:
        return progress_of(grant)

    def get_last_error(self, grant: BulkGrant) -> str:
        return services.last_error_text(grant.last_error)


def progress_of(grant: BulkGrant) -> float:
    """Share of targeted recipients processed, 0..1 (for display only)."""
    if not grant.targeted:
        return 1.0 if grant.status == BulkGrantStatus.DONE else 0.0
    done = grant.granted + grant.skipped_limit + grant.skipped_stock + grant.failed
    return round(min(done / grant.targeted, 1.0), 4)


class BulkGrantDetailOutputSerializer(BulkGrantOutputSerializer):
    """A bulk grant with its audit trail, newest first (the answer of every endpoint about one grant)."""

    audit_trail = serializers.SerializerMethodField()

    @extend_schema_field(AuditEntryOutputSerializer(many=True))
    def get_audit_trail(self, grant: BulkGrant) -> Any:
        return AuditEntryOutputSerializer(audit_trail_for(grant), many=True).data


def _detail(grant: BulkGrant) -> dict:
    return BulkGrantDetailOutputSerializer(grant).data


class BulkGrantInputSerializer(StrictSerializer):
    """Types only; the rules live in the service. ``users`` is a list of ids/usernames, or upload a
    CSV as ``users_file`` (multipart)."""

    name = serializers.CharField(max_length=100)
    target_type = serializers.ChoiceField(choices=BulkGrantTarget.choices)
    segment = serializers.JSONField(required=False)
    users = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, max_length=services.MAX_LIST_USERS
    )
    users_file = serializers.FileField(required=False)
    template_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62)
    gift_pack_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62)
    scheduled_at = BoundedDateTimeField(required=False, allow_null=True)

    def validate_users_file(self, value):
        if value.size > MAX_UPLOAD_BYTES:
            raise serializers.ValidationError(_("The file is too large (20 MB at most)."))
        return value


# The service names the objects it is given; the client sent their ids.
_API_FIELDS = {"template": "template_id", "gift_pack": "gift_pack_id"}


def _name_as_sent(exc: ValidationFailed) -> None:
    exc.details = {_API_FIELDS.get(field, field): errors for field, errors in exc.details.items()}


def _service_kwargs(values: dict) -> dict:
    template = gift_pack = None
    if values.get("template_id"):
        template = CouponTemplate.objects.filter(pk=values["template_id"]).first()
        if template is None:
            raise ValidationFailed(_("Unknown template."), details={"template_id": [_("Unknown template.")]})
    if values.get("gift_pack_id"):
        gift_pack = GiftPack.objects.filter(pk=values["gift_pack_id"]).first()
        if gift_pack is None:
            raise ValidationFailed(_("Unknown gift pack."), details={"gift_pack_id": [_("Unknown gift pack.")]})
    users = list(values.get("users") or [])
    if values.get("users_file") is not None:
        users += services.parse_user_list(values["users_file"].read())
    return {
        "name": values["name"],
        "target_type": values["target_type"],
        "segment": values.get("segment"),
        "users": users or None,
        "template": template,
        "gift_pack": gift_pack,
        "scheduled_at": values.get("scheduled_at"),
    }


class BulkGrantListCreateApi(APIView):
    permission_classes = [HasModelPerm]
    required_perm = "marketing.view_bulkgrant"
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    pagination_class = Pagination

    class FilterSerializer(QuerySerializer):
        status = serializers.ChoiceField(choices=BulkGrantStatus.choices, required=False)

    @extend_schema(parameters=[FilterSerializer], responses=BulkGrantOutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(bulk_grants_for_staff(**filters.validated_data), request, view=self)
        return paginator.get_paginated_response(BulkGrantOutputSerializer(page, many=True).data)

    @extend_schema(request=BulkGrantInputSerializer, responses={201: BulkGrantDetailOutputSerializer})
    @idempotent
    def post(self, request):
        data = BulkGrantInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            grant = services.bulk_grant_create(actor=request.user, **_service_kwargs(data.validated_data))
        except ValidationFailed as exc:
            _name_as_sent(exc)
            raise
        return Response(_detail(grant), status=status.HTTP_201_CREATED)


class BulkGrantDetailApi(APIView):
    permission_classes = [HasModelPerm]
    required_perm = "marketing.view_bulkgrant"

    @extend_schema(responses=BulkGrantDetailOutputSerializer)
    def get(self, request, pk: int):
        return Response(_detail(get_object_or_404(bulk_grants_for_staff(), pk=pk)))


class RemarkInputSerializer(StrictSerializer):
    remark = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class RequiredRemarkInputSerializer(StrictSerializer):
    remark = serializers.CharField(max_length=2000)


class ReviewInputSerializer(RemarkInputSerializer):
    updated_at = seen_version_field()


class RequiredRemarkReviewInputSerializer(RequiredRemarkInputSerializer):
    updated_at = seen_version_field()


class _BulkGrantActionApi(APIView):
    permission_classes = [IsStaff]
    InputSerializer: type[serializers.Serializer] = RemarkInputSerializer

    def act(self, grant: BulkGrant, data: dict, user) -> BulkGrant:
        raise NotImplementedError

    @refuses(InvalidTransition, PermissionDeniedError)
    @idempotent
    def post(self, request, pk: int):
        grant = get_object_or_404(BulkGrant, pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            acted = self.act(grant, data.validated_data, request.user)
        except ValidationFailed as exc:  # a template no longer issuing when the grant runs
            _name_as_sent(exc)
            raise
        return Response(_detail(acted), status=status.HTTP_200_OK)


@extend_schema(request=None, responses=BulkGrantDetailOutputSerializer)
class BulkGrantSubmitApi(_BulkGrantActionApi):
    def act(self, grant, data, user):
        return services.bulk_grant_submit(grant=grant, actor=user)


@extend_schema(request=ReviewInputSerializer, responses=BulkGrantDetailOutputSerializer)
class BulkGrantApproveApi(_BulkGrantActionApi):
    InputSerializer = ReviewInputSerializer

    def act(self, grant, data, user):
        return services.bulk_grant_approve(
            grant=grant, actor=user, remark=data.get("remark", ""), seen=data.get("updated_at")
        )


@extend_schema(request=RequiredRemarkReviewInputSerializer, responses=BulkGrantDetailOutputSerializer)
class BulkGrantRejectApi(_BulkGrantActionApi):
    InputSerializer = RequiredRemarkReviewInputSerializer

    def act(self, grant, data, user):
        return services.bulk_grant_reject(grant=grant, actor=user, remark=data["remark"], seen=data.get("updated_at"))


@extend_schema(request=RemarkInputSerializer, responses=BulkGrantDetailOutputSerializer)
class BulkGrantCancelApi(_BulkGrantActionApi):
    def act(self, grant, data, user):
        return services.bulk_grant_cancel(grant=grant, actor=user, remark=data.get("remark", ""))
