"""Staff template endpoints: the same services and permissions as admin."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.output import AuditEntryOutputSerializer
from core.api.pagination import Pagination
from core.api.permissions import HasModelPerm, IsStaff
from core.api.schema import refuses
from core.api.serializers import BoundedDateTimeField, QuerySerializer, StrictSerializer, seen_version_field
from core.audit import audit_trail_for
from core.errors import InvalidTransition, PermissionDeniedError
from core.idempotency import idempotent
from coupons import services
from coupons.api.declared import CouponValueField, UsageRulesField
from coupons.models import CouponTemplate, CouponType, TemplateStatus, ValidityType
from coupons.selectors import templates_for_staff
from coupons.services.templates import EDITABLE_FIELDS
from coupons.summary import summaries_for, template_summary


class TemplateOutputSerializer(serializers.ModelSerializer):
    value = CouponValueField(read_only=True)
    usage_rules = UsageRulesField(read_only=True)
    summary = serializers.SerializerMethodField()
    remaining = serializers.IntegerField(allow_null=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True, read_only=True)
    reviewed_by = serializers.CharField(source="reviewed_by.username", default=None, allow_null=True, read_only=True)

    class Meta:
        model = CouponTemplate
        # The editable fields (one list, owned by the workflow service) and what the workflow and the
        # counters own.
        fields = [
            "id",
            *EDITABLE_FIELDS,
            "summary",
            "issued_quantity",
            "remaining",
            "status",
            "created_by",
            "reviewed_by",
            "reviewed_at",
            "review_remark",
            "copied_from",
            "created_at",
            "updated_at",
        ]

    def get_summary(self, template: CouponTemplate) -> str:
        """The human summary in the reader's language, e.g. "满100元减10元 · 每人限1张 · 共1000张"."""
        summaries = self.context.get("summaries") or {}
        return summaries.get(template.pk) or template_summary(template)


class TemplateDetailOutputSerializer(TemplateOutputSerializer):
    """A template with its audit trail, newest first (the answer of every endpoint about one template)."""

    audit_trail = serializers.SerializerMethodField()

    class Meta(TemplateOutputSerializer.Meta):
        fields = [*TemplateOutputSerializer.Meta.fields, "audit_trail"]

    @extend_schema_field(AuditEntryOutputSerializer(many=True))
    def get_audit_trail(self, template: CouponTemplate) -> Any:
        return AuditEntryOutputSerializer(audit_trail_for(template), many=True).data


class TemplateInputSerializer(StrictSerializer):
    """Types only; the business checks live in coupons.validation, shared with admin."""

    name = serializers.CharField(max_length=100)
    short_name = serializers.CharField(max_length=40, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    type = serializers.ChoiceField(choices=CouponType.choices)
    value = CouponValueField()
    usage_rules = UsageRulesField(required=False)
    total_quantity = serializers.IntegerField(required=False, min_value=-1, max_value=100_000_000)
    per_user_limit = serializers.IntegerField(required=False, min_value=0, max_value=1_000)
    issue_start_time = BoundedDateTimeField(required=False, allow_null=True)
    issue_end_time = BoundedDateTimeField(required=False, allow_null=True)
    validity_type = serializers.ChoiceField(choices=ValidityType.choices, required=False)
    valid_from = BoundedDateTimeField(required=False, allow_null=True)
    valid_until = BoundedDateTimeField(required=False, allow_null=True)
    valid_days_after_issue = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=3650)
    visible_in_claim_center = serializers.BooleanField(required=False)
    target = serializers.JSONField(required=False)
    # [0-9], not \d: \d matches any script's digits ("０１", "٠١"), and the line goes into the coupon codes.
    product_line = serializers.RegexField(r"^[0-9]{2}$", required=False)
    return_on_cancel = serializers.BooleanField(required=False)
    # The admin editor's "I have read the warnings" box: asked on every create and edit, not stored on the
    # template (the audit row of the save records it).
    confirm_warnings = serializers.BooleanField(
        default=False,
        help_text="Must be true when the saved definition has sense warnings (100 % off without a cap, more than"
        " 50 % off, unlimited stock without a per-user limit), on every create and edit: otherwise 400"
        " VALIDATION_ERROR naming `confirm_warnings` and listing them. The confirmation is recorded in the"
        " audit trail (`confirmed_warnings`) and shown to the reviewer.",
    )


def _save_args(data: serializers.Serializer) -> dict[str, Any]:
    fields = dict(data.validated_data)
    return {"data": fields, "confirm_warnings": fields.pop("confirm_warnings", False)}


def _detail(template: CouponTemplate) -> dict:
    return TemplateDetailOutputSerializer(template).data


class TemplateListCreateApi(APIView):
    permission_classes = [HasModelPerm]
    required_perm = "coupons.view_coupontemplate"
    pagination_class = Pagination

    class FilterSerializer(QuerySerializer):
        status = serializers.ChoiceField(choices=TemplateStatus.choices, required=False)
        search = serializers.CharField(required=False, max_length=100)

    @extend_schema(parameters=[FilterSerializer], responses=TemplateOutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(templates_for_staff(**filters.validated_data), request, view=self)
        context = {"summaries": summaries_for(page or [])}
        return paginator.get_paginated_response(TemplateOutputSerializer(page, many=True, context=context).data)

    @extend_schema(request=TemplateInputSerializer, responses={201: TemplateDetailOutputSerializer})
    @idempotent
    def post(self, request):
        data = TemplateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        template = services.template_create(actor=request.user, **_save_args(data))
        return Response(_detail(template), status=status.HTTP_201_CREATED)


class TemplateDetailApi(APIView):
    permission_classes = [HasModelPerm]
    required_perm = "coupons.view_coupontemplate"

    @extend_schema(responses=TemplateDetailOutputSerializer)
    def get(self, request, pk: int):
        return Response(_detail(get_object_or_404(CouponTemplate, pk=pk)))

    @extend_schema(request=TemplateInputSerializer, responses=TemplateDetailOutputSerializer)
    @refuses(InvalidTransition)
    def patch(self, request, pk: int):
        template = get_object_or_404(CouponTemplate, pk=pk)
        data = TemplateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        template = services.template_update(template=template, actor=request.user, **_save_args(data))
        return Response(_detail(template))


class _TemplateActionApi(APIView):
    permission_classes = [IsStaff]

    class InputSerializer(StrictSerializer):
        remark = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def get_serializer_class(self):
        return self.InputSerializer

    def act(self, template: CouponTemplate, data: dict, user) -> CouponTemplate:
        raise NotImplementedError

    @refuses(InvalidTransition, PermissionDeniedError)
    @idempotent
    def post(self, request, pk: int):
        template = get_object_or_404(CouponTemplate, pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = self.act(template, data.validated_data, request.user)
        code = status.HTTP_201_CREATED if result.pk != template.pk else status.HTTP_200_OK
        return Response(_detail(result), status=code)


@extend_schema(request=None, responses=TemplateDetailOutputSerializer)
class TemplateSubmitApi(_TemplateActionApi):
    def act(self, template, data, user):
        return services.template_submit(template=template, actor=user)


@extend_schema(responses=TemplateDetailOutputSerializer)
class TemplateApproveApi(_TemplateActionApi):
    class InputSerializer(StrictSerializer):
        remark = serializers.CharField(required=False, allow_blank=True, max_length=2000)
        updated_at = seen_version_field()

    def act(self, template, data, user):
        return services.template_approve(
            template=template, actor=user, remark=data.get("remark", ""), seen=data.get("updated_at")
        )


@extend_schema(responses=TemplateDetailOutputSerializer)
class TemplateRejectApi(_TemplateActionApi):
    class InputSerializer(StrictSerializer):
        remark = serializers.CharField(max_length=2000)
        updated_at = seen_version_field()

    def act(self, template, data, user):
        return services.template_reject(
            template=template, actor=user, remark=data["remark"], seen=data.get("updated_at")
        )


@extend_schema(responses=TemplateDetailOutputSerializer)
class TemplateStopApi(_TemplateActionApi):
    class InputSerializer(StrictSerializer):
        revoke_unused = serializers.BooleanField(default=False)
        remark = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def act(self, template, data, user):
        return services.template_stop(
            template=template, actor=user, revoke_unused=data["revoke_unused"], remark=data.get("remark", "")
        )


@extend_schema(request=None, responses={201: TemplateDetailOutputSerializer})
class TemplateCopyApi(_TemplateActionApi):
    def act(self, template, data, user):
        return services.template_copy(template=template, actor=user)
