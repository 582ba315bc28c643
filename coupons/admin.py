"""Admin for coupon templates and the coupons people hold. Every button calls a service."""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from core.actions import action_label
from core.audit import audit_trail_for
from core.errors import ApplicationError
from core.forms import MOMENT_OVERRIDES
from core.review import forbids, parse_version, version_of
from coupons import services
from coupons.admin_forms.editor import TemplateEditorForm, editor_form_class, value_fieldsets
from coupons.admin_grant import grant_to_users_action
from coupons.dashboard import daily_series
from coupons.exports import template_coupons_csv, template_stats_csv
from coupons.models import CouponStatus, CouponTemplate, TemplateStatus, UserCoupon
from coupons.review import template_review
from coupons.services.stats import template_stats
from coupons.services.templates import EDITABLE_FIELDS, can_edit, can_transition
from coupons.summary import summaries_for, template_summary
from coupons.workflow_access import template_action_refusal

STATUS_COLOURS = {
    TemplateStatus.DRAFT: "#6c757d",
    TemplateStatus.PENDING_REVIEW: "#d39e00",
    TemplateStatus.APPROVED: "#218838",
    TemplateStatus.REJECTED: "#c82333",
    TemplateStatus.STOPPED: "#343a40",
    TemplateStatus.ENDED: "#5a6268",
    CouponStatus.UNUSED: "#218838",
    CouponStatus.LOCKED: "#d39e00",
    CouponStatus.USED: "#0069d9",
    CouponStatus.EXPIRED: "#5a6268",
    CouponStatus.REVOKED: "#c82333",
}


def _json_block(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2))


def badge(value: str, label: str) -> str:
    colour = STATUS_COLOURS.get(value, "#6c757d")  # type: ignore[call-overload]
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;white-space:nowrap">{}</span>',
        colour,
        label,
    )


@admin.register(CouponTemplate)
class CouponTemplateAdmin(admin.ModelAdmin):
    form = TemplateEditorForm
    formfield_overrides = MOMENT_OVERRIDES
    list_display = [
        "name",
        "summary_display",
        "type",
        "status_badge",
        "stock",
        "per_user_limit",
        "issue_window",
        "created_by",
        "updated_at",
    ]
    # Note: no date_hierarchy; on MySQL/MariaDB it needs the server's time-zone tables (CONVERT_TZ) and
    # the list fails without them. A date filter compares instants and works everywhere.
    list_filter = ["status", "type", "validity_type", "visible_in_claim_center", "created_at"]
    search_fields = ["name", "short_name", "description"]
    list_select_related = ["created_by"]
    readonly_fields = [
        "summary_display",
        "value_json",
        "usage_rules_json",
        "target_json",
        "status_badge",
        "issued_quantity",
        "remaining_display",
        "created_by",
        "reviewed_by",
        "reviewed_at",
        "review_remark",
        "copied_from",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "short_name", "description", "type"]}),
        (
            _("Stock and limits"),
            {"fields": ["total_quantity", "issued_quantity", "remaining_display", "per_user_limit"]},
        ),
        (
            _("Claim window and validity"),
            {
                "fields": [
                    "issue_start_time",
                    "issue_end_time",
                    "validity_type",
                    "valid_from",
                    "valid_until",
                    "valid_days_after_issue",
                ]
            },
        ),
        (
            _("Audience"),
            {
                "fields": [
                    "visible_in_claim_center",
                    "target_type",
                    "target_days",
                    "target_levels",
                    "target_tags",
                    "target_user_type",
                    "product_line",
                    "return_on_cancel",
                ]
            },
        ),
        (_("Checks"), {"fields": ["confirm_warnings"]}),
        (
            _("Review"),
            {
                "fields": [
                    "status_badge",
                    "created_by",
                    "reviewed_by",
                    "reviewed_at",
                    "review_remark",
                    "copied_from",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    change_form_template = "admin/coupons/coupontemplate/change_form.html"
    actions = [grant_to_users_action]

    class Media:
        css = {"all": ["coupons/admin/editor.css"]}

    @admin.display(description=_("summary"))
    def summary_display(self, obj: CouponTemplate) -> str:
        return getattr(obj, "summary_text", None) or template_summary(obj)

    @admin.display(description=_("value (JSON)"))
    def value_json(self, obj: CouponTemplate) -> str:
        return _json_block(obj.value)

    @admin.display(description=_("usage rules (JSON)"))
    def usage_rules_json(self, obj: CouponTemplate) -> str:
        return _json_block(obj.usage_rules)

    @admin.display(description=_("who may claim (JSON)"))
    def target_json(self, obj: CouponTemplate) -> str:
        return _json_block(obj.target)

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        # One batch for the page's summaries (menu names in two queries at most), not one per row.
        rows = list(changelist.result_list)  # evaluated once; the list view iterates the same objects
        summaries = summaries_for(rows)
        for row in rows:
            row.summary_text = summaries.get(row.pk, "")
        return changelist

    def get_form(self, request: HttpRequest, obj: CouponTemplate | None = None, change: bool = False, **kwargs: Any):  # type: ignore[override]
        kwargs["form"] = editor_form_class()
        return super().get_form(request, obj, change, **kwargs)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: CouponTemplate) -> str:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description=_("stock (issued / total)"))
    def stock(self, obj: CouponTemplate) -> str:
        if obj.is_unlimited:
            return gettext("%(issued)s / unlimited") % {"issued": obj.issued_quantity}
        return f"{obj.issued_quantity} / {obj.total_quantity}"

    @admin.display(description=_("remaining"))
    def remaining_display(self, obj: CouponTemplate) -> str:
        return gettext("unlimited") if obj.remaining is None else str(obj.remaining)

    @admin.display(description=_("claim window"))
    def issue_window(self, obj: CouponTemplate) -> str:
        # Days as the business counts them (its time zone), not UTC's.
        start = timezone.localtime(obj.issue_start_time).strftime("%Y-%m-%d") if obj.issue_start_time else "…"
        end = timezone.localtime(obj.issue_end_time).strftime("%Y-%m-%d") if obj.issue_end_time else "…"
        return f"{start} – {end}"

    def get_fieldsets(self, request: HttpRequest, obj: CouponTemplate | None = None):  # type: ignore[override]
        advanced = (
            _("Advanced: stored JSON"),
            {"fields": ["value_json", "usage_rules_json", "target_json"], "classes": ["collapse"]},
        )
        if obj is not None and not self.has_change_permission(request, obj):
            # Read-only: the summary and the stored JSON instead of the editor's fields.
            return [
                (None, {"fields": ["name", "short_name", "description", "type", "summary_display"]}),
                self.fieldsets[1],
                self.fieldsets[2],
                (_("Audience"), {"fields": ["visible_in_claim_center", "product_line", "return_on_cancel"]}),
                self.fieldsets[-1],
                advanced,
            ]
        values = value_fieldsets()
        values[-1][1]["classes"].append("coupon-rules-anchor")
        editor = [self.fieldsets[0], *values, *self.fieldsets[1:5]]
        if obj is None:
            return editor
        return [*editor, self.fieldsets[-1], advanced]

    def get_readonly_fields(self, request: HttpRequest, obj: CouponTemplate | None = None):  # type: ignore[override]
        if obj is None:
            return ["issued_quantity", "remaining_display"]
        return self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: CouponTemplate | None = None) -> bool:
        # Approved templates are immutable: they open read-only (copy into a new draft to change).
        if obj is not None and not can_edit(obj, request.user):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: CouponTemplate | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: CouponTemplate, form: forms.ModelForm, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        # The editor refused a definition with warnings unless the box was ticked: the tick is recorded.
        confirmed = bool(form.cleaned_data.get("confirm_warnings"))
        if change:
            saved = services.template_update(template=obj, actor=request.user, data=data, confirm_warnings=confirmed)
        else:
            saved = services.template_create(actor=request.user, data=data, confirm_warnings=confirmed)
        obj.pk = saved.pk
        obj.status = saved.status
        obj.created_by = saved.created_by

    # Workflow buttons -----------------------------------------------------------------------------
    def get_urls(self):
        urls = super().get_urls()
        return [
            path(
                "<int:object_id>/workflow/<str:action>/",
                self.admin_site.admin_view(self.workflow_view),
                name="coupons_coupontemplate_workflow",
            ),
            path(
                "<int:object_id>/export/coupons.csv",
                self.admin_site.admin_view(self.export_coupons_view),
                name="coupons_coupontemplate_export_coupons",
            ),
            path(
                "<int:object_id>/export/stats.csv",
                self.admin_site.admin_view(self.export_stats_view),
                name="coupons_coupontemplate_export_stats",
            ),
        ] + urls

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if obj is not None:
            extra_context["workflow_actions"] = [
                (action, label)
                for action, label in WORKFLOW_LABELS.items()
                if (action == "copy" and request.user.has_perm("coupons.add_coupontemplate"))
                or (action != "copy" and can_transition(obj, action, request.user))
            ]
            extra_context["audit_trail"] = trail = audit_trail_for(obj)
            extra_context["audit_summaries"] = recorded_summaries(trail)
            extra_context["summary"] = template_summary(obj)
            extra_context["stats"] = template_stats(template=obj)
            extra_context["stats_chart"] = daily_series(template=obj)["chart"]
        return super().change_view(request, object_id, form_url, extra_context)

    def export_coupons_view(self, request: HttpRequest, object_id: int) -> HttpResponseBase:
        template = get_object_or_404(CouponTemplate, pk=object_id)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        return template_coupons_csv(template)

    def export_stats_view(self, request: HttpRequest, object_id: int) -> HttpResponseBase:
        template = get_object_or_404(CouponTemplate, pk=object_id)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        return template_stats_csv(template)

    def workflow_view(self, request: HttpRequest, object_id: int, action: str) -> HttpResponse:
        template = get_object_or_404(CouponTemplate, pk=object_id)
        if action not in WORKFLOW_LABELS or not self.has_view_permission(request, template):
            raise PermissionDenied
        change_url = reverse("admin:coupons_coupontemplate_change", args=[template.pk])
        if request.method != "POST":  # a forged POST is refused by the service, with its message
            refusal = template_action_refusal(template=template, action=action, user=request.user)
            if refusal is not None:
                if forbids(refusal):
                    raise PermissionDenied
                # A page drawn before the template moved on (approved by a colleague, say): say why.
                self.message_user(request, refusal.message, messages.ERROR)
                return HttpResponseRedirect(change_url)
        # Bound on every POST: a submit has no fields, so its POST may be empty and must still act.
        form = WorkflowForm(
            request.POST if request.method == "POST" else None, action=action, initial={"seen": version_of(template)}
        )
        if request.method == "POST" and form.is_valid():
            try:
                result = run_workflow_action(action, template, request.user, form.cleaned_data)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            except ValidationError as exc:  # a submit checks the definition again (the menu may have changed)
                self.message_user(
                    request,
                    gettext("The definition does not pass its checks now: %(problems)s Edit it, then submit it.")
                    % {"problems": " ".join(exc.messages)},
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request, gettext("%(action)s: done.") % {"action": WORKFLOW_LABELS[action]}, messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:coupons_coupontemplate_change", args=[result.pk]))
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": template,
            "title": f"{WORKFLOW_LABELS[action]}: {template}",
            "form": form,
            "action_label": WORKFLOW_LABELS[action],
            "review": template_review(template) if action in ("submit", "approve", "reject") else None,
        }
        return TemplateResponse(request, "admin/coupons/coupontemplate/workflow.html", context)


def recorded_summaries(trail: Any) -> list[tuple[Any, str, str]]:
    """(entry, action label, summary in the reader's language) of the entries that recorded one."""
    language = get_language() or ""
    rows = []
    for entry in trail:
        texts = entry.data.get("summary") if isinstance(entry.data, dict) else None
        if isinstance(texts, dict) and texts:
            text = texts.get(language) or next(iter(texts.values()))
            rows.append((entry, action_label(entry.action), text))
    return rows


WORKFLOW_LABELS = {
    "submit": _("Submit for review"),
    "approve": _("Approve"),
    "reject": _("Reject"),
    "stop": _("Stop"),
    "copy": _("Copy to a new draft"),
}


class WorkflowForm(forms.Form):
    remark = forms.CharField(label=_("remark"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    revoke_unused = forms.BooleanField(
        label=_("revoke every unused coupon now (止损)"),
        required=False,
        help_text=_("Coupons locked by an order still finish that order."),
    )

    # The version the page showed: a review of a template saved since is refused (``Workflow.begin``).
    seen = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, action: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if action not in ("approve", "reject"):
            del self.fields["seen"]
        if action != "stop":
            del self.fields["revoke_unused"]
        if action == "reject":
            self.fields["remark"].required = True
        if action in ("submit", "copy"):
            del self.fields["remark"]


def run_workflow_action(action: str, template: CouponTemplate, actor: Any, data: dict[str, Any]) -> CouponTemplate:
    if action == "submit":
        return services.template_submit(template=template, actor=actor)
    seen = parse_version(data.get("seen"))
    if action == "approve":
        return services.template_approve(template=template, actor=actor, remark=data.get("remark", ""), seen=seen)
    if action == "reject":
        return services.template_reject(template=template, actor=actor, remark=data.get("remark", ""), seen=seen)
    if action == "stop":
        return services.template_stop(
            template=template,
            actor=actor,
            revoke_unused=data.get("revoke_unused", False),
            remark=data.get("remark", ""),
        )
    return services.template_copy(template=template, actor=actor)


@admin.register(UserCoupon)
class UserCouponAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "user",
        "template",
        "status_badge",
        "amount",
        "source",
        "acquired_at",
        "expires_at",
        "used_at",
    ]
    # Note: no date_hierarchy, for the reason given on CouponTemplateAdmin.
    list_filter = ["status", "source", "template", "acquired_at"]
    search_fields = ["code", "user__username", "template__name"]
    list_select_related = ["user", "template"]
    raw_id_fields = ["user", "template", "order", "granted_by"]
    show_full_result_count = False

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: UserCoupon) -> str:
        status = obj.effective_status()
        return badge(status, str(CouponStatus(status).label))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: UserCoupon | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: UserCoupon | None = None) -> bool:
        return False


from coupons import admin_codes  # noqa: E402,F401  (registers the redemption-code batch admin)
