"""Admin for activities, gift packs, bulk grants and the notifications outbox. Every button calls a
service; objects past their draft open read-only."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core.audit import audit_trail_for
from core.errors import ApplicationError, InvalidTransition, PermissionDeniedError
from core.forms import MOMENT_OVERRIDES
from core.review import forbids, parse_version, version_of
from coupons.errors import CouponErrorCode
from coupons.models import CouponTemplate, TemplateStatus
from coupons.summary import summaries_for
from marketing.api.staff_bulk_grants import progress_of
from marketing.models import (
    Activity,
    ActivityItem,
    ActivityStatus,
    BulkGrant,
    BulkGrantStatus,
    BulkGrantTarget,
    GiftPack,
    GiftPackGrant,
    GiftPackItem,
    MemberLevel,
    MemberProfile,
    MemberTag,
    Notification,
    PendingTrigger,
)
from marketing.selectors import bulk_grant_audience_size, segment_size
from marketing.services import activities as activity_services
from marketing.services import bulk_grants as bulk_services
from marketing.services.gift_packs import bulk_grants_holding_pack, gift_pack_lock_for_change, pack_held_message
from marketing.services.members import member_profile_update
from marketing.services.segments import clean_segment, registration_day_problem, segment_summary


class WorkflowForm(forms.Form):
    remark = forms.CharField(label=_("remark"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    # The version the page showed: a review of an object saved since is refused (``Workflow.begin``).
    seen = forms.CharField(widget=forms.HiddenInput, required=False)


class WorkflowAdmin(admin.ModelAdmin):
    """Workflow buttons on the change page, a confirmation page per action, and the audit trail."""

    change_form_template = "admin/marketing/workflow_change_form.html"
    workflow_labels: dict[str, Any] = {}
    remark_required: frozenset[str] = frozenset()

    def refusal(self, obj: Any, action: str, user: Any) -> ApplicationError | None:
        """Why ``user`` may not take ``action`` on ``obj`` now (``Workflow.refusal_of``): None when they may."""
        raise NotImplementedError

    def allowed(self, obj: Any, action: str, user: Any) -> bool:
        return self.refusal(obj, action, user) is None

    def run_action(self, obj: Any, action: str, user: Any, remark: str, seen: datetime | None = None) -> Any:
        raise NotImplementedError

    def url_name(self) -> str:
        return f"{self.model._meta.app_label}_{self.model._meta.model_name}_workflow"

    def workflow_facts(self, obj: Any, action: str) -> list[tuple[Any, Any]]:
        """(label, value) rows shown on the confirmation page above the form."""
        return []

    def workflow_context(self, obj: Any, action: str) -> dict[str, Any]:
        """More for the confirmation page's template."""
        return {}

    def url_after(self, obj: Any, action: str, change_url: str) -> str:
        return change_url

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:object_id>/workflow/<str:action>/",
                self.admin_site.admin_view(self.workflow_view),
                name=self.url_name(),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if obj is not None:
            extra_context["workflow_actions"] = [
                (reverse(f"admin:{self.url_name()}", args=[obj.pk, action]), label, action)
                for action, label in self.workflow_labels.items()
                if self.allowed(obj, action, request.user)
            ]
            extra_context["audit_trail"] = audit_trail_for(obj)
        return super().change_view(request, object_id, form_url, extra_context)

    def workflow_view(self, request: HttpRequest, object_id: int, action: str) -> HttpResponse:
        obj = get_object_or_404(self.model, pk=object_id)
        if action not in self.workflow_labels:
            raise PermissionDenied
        change_url = reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_change", args=[obj.pk])
        refusal = self.refusal(obj, action, request.user)
        if refusal is not None:
            # The page itself is refused, not only its POST, to whoever may never take the action; whoever
            # may, on an object that has moved on since their page was drawn, is told why on its page.
            if forbids(refusal):
                raise PermissionDenied
            self.message_user(request, refusal.message, messages.ERROR)
            return HttpResponseRedirect(change_url)
        form = WorkflowForm(request.POST if request.method == "POST" else None, initial={"seen": version_of(obj)})
        if action in self.remark_required:
            form.fields["remark"].required = True
        if request.method == "POST" and form.is_valid():
            try:
                seen = parse_version(form.cleaned_data.get("seen"))
                self.run_action(obj, action, request.user, form.cleaned_data.get("remark", ""), seen)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                label = self.workflow_labels[action]
                self.message_user(request, gettext("%(action)s: done.") % {"action": label}, messages.SUCCESS)
                return HttpResponseRedirect(self.url_after(obj, action, change_url))
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": f"{self.workflow_labels[action]}: {obj}",
            "form": form,
            "action_label": self.workflow_labels[action],
            "change_url": change_url,
            "facts": self.workflow_facts(obj, action),
            "action": action,
            **self.workflow_context(obj, action),
        }
        return TemplateResponse(request, "admin/marketing/workflow.html", context)


# Activities -------------------------------------------------------------------------------------


class ActivityItemInline(admin.TabularInline):
    model = ActivityItem
    extra = 1
    autocomplete_fields = ["template"]  # picked by name from the template admin's search


class ActivityForm(forms.ModelForm):
    class Meta:
        model = Activity
        fields = ["title", "intro", "image", "start_time", "end_time", "channel", "per_user_limit"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        if self.instance.pk is not None:
            # Admin saves the activity and its items in this request's transaction: the row stays locked
            # until they are written, so a publish waits for the edit (and then checks the items saved),
            # and an activity published since the page read it is refused here instead of overwritten.
            try:
                activity_services.activity_lock_for_change(activity_id=self.instance.pk)
            except InvalidTransition as exc:
                raise ValidationError(exc.message, code="not_editable") from None
        return self.cleaned_data


@admin.register(Activity)
class ActivityAdmin(WorkflowAdmin):
    form = ActivityForm
    list_display = ["title", "status", "start_time", "end_time", "channel", "per_user_limit", "created_by"]
    list_filter = ["status", "channel"]
    search_fields = ["title", "intro"]
    inlines = [ActivityItemInline]
    fields = ["title", "intro", "image", "start_time", "end_time", "channel", "per_user_limit", "status"]
    readonly_fields = ["status"]
    workflow_labels = {"publish": _("Publish"), "cancel": _("Cancel the activity")}
    formfield_overrides = MOMENT_OVERRIDES

    def refusal(self, obj: Activity, action: str, user: Any) -> ApplicationError | None:
        return activity_services.transition_refusal(obj, action, user)

    def run_action(self, obj: Activity, action: str, user: Any, remark: str, seen: datetime | None = None) -> Activity:
        if action == "publish":
            return activity_services.activity_publish(activity=obj, actor=user)
        return activity_services.activity_cancel(activity=obj, actor=user, remark=remark)

    def has_change_permission(self, request: HttpRequest, obj: Activity | None = None) -> bool:
        if obj is not None and obj.status != ActivityStatus.DRAFT:
            return False  # published, ended and cancelled activities are read-only
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Activity | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Activity, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
            obj.save()
            return
        # Only what the form edits: the status belongs to the workflow (the form's clean holds the row's
        # lock and found it a draft), and the rest of ``obj`` is as the request first read it.
        editable = {field.name for field in Activity._meta.concrete_fields} & set(form.cleaned_data)
        obj.save(update_fields=[*sorted(editable), "updated_at"])


# Gift packs -------------------------------------------------------------------------------------


NO_SAVE_BUTTONS = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}


def pack_held(pack: GiftPack | None) -> bool:
    """Whether a bulk grant under review, approved or running hands the pack out (it opens read-only).
    Read once per request's pack: admin asks the inline's permissions many times for one page."""
    if pack is None or pack.pk is None:
        return False
    if "_held" not in pack.__dict__:
        pack.__dict__["_held"] = bulk_grants_holding_pack(pack=pack).exists()
    return bool(pack.__dict__["_held"])


class GiftPackItemFormSet(forms.BaseInlineFormSet):
    """An active pack holds only approved templates: its triggers fire at any moment, and an item that
    cannot be issued then is skipped for good (a pack is given once per user and occasion)."""

    def clean(self) -> None:
        super().clean()
        if not self.instance.is_active:
            return
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if data.get("DELETE"):
                continue
            template = data.get("template")
            if not isinstance(template, CouponTemplate):  # a row shown read-only: its data are the ids it holds
                template = form.instance.template if form.instance.template_id else None
            if template is not None and template.status != TemplateStatus.APPROVED:
                form.add_error(
                    "template",
                    gettext("An active gift pack holds only approved templates: %(template)s is %(status)s.")
                    % {"template": template.name, "status": template.get_status_display()},
                )


class GiftPackItemInline(admin.TabularInline):
    model = GiftPackItem
    formset = GiftPackItemFormSet
    extra = 1
    autocomplete_fields = ["template"]

    def has_add_permission(self, request: HttpRequest, obj: GiftPack | None = None) -> bool:
        return not pack_held(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: GiftPack | None = None) -> bool:
        return not pack_held(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: GiftPack | None = None) -> bool:
        return not pack_held(obj) and super().has_delete_permission(request, obj)


class GiftPackForm(forms.ModelForm):
    class Meta:
        model = GiftPack
        fields = ["name", "description", "trigger", "is_active"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        if self.instance.pk is not None:
            # Admin saves the pack and its items in this request's transaction: the pack's row stays
            # locked until they are written, so a bulk grant cannot be submitted with it meanwhile.
            try:
                gift_pack_lock_for_change(pack=self.instance)
            except ApplicationError as exc:
                raise ValidationError(exc.message) from exc
        return self.cleaned_data


@admin.register(GiftPack)
class GiftPackAdmin(admin.ModelAdmin):
    """A pack that a bulk grant under review, approved or running hands out opens read-only, with the
    reason above it: the grant's run reads the items when it executes."""

    form = GiftPackForm
    list_display = ["name", "trigger", "is_active", "item_count", "created_at"]
    list_filter = ["trigger", "is_active"]
    search_fields = ["name"]
    inlines = [GiftPackItemInline]

    @admin.display(description=_("coupons"))
    def item_count(self, obj: GiftPack) -> int:
        return sum(obj.items.values_list("quantity", flat=True))

    def get_readonly_fields(self, request: HttpRequest, obj: GiftPack | None = None) -> Any:
        if pack_held(obj):
            return list(GiftPackForm.base_fields)
        return super().get_readonly_fields(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pack = self.get_object(request, object_id)
        grants = list(bulk_grants_holding_pack(pack=pack)) if pack is not None else []
        if grants:
            extra_context = {**(extra_context or {}), **NO_SAVE_BUTTONS}
            if request.method == "GET":  # a POST answers with the same message as a form error
                self.message_user(request, pack_held_message(grants), messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def has_delete_permission(self, request: HttpRequest, obj: GiftPack | None = None) -> bool:
        return False  # deactivate instead: grants keep pointing at the pack


# Why a pack's item was skipped (the issuing refusal's code, kept on the grant), as staff read it.
SKIP_REASONS = {
    CouponErrorCode.SOLD_OUT: _("sold out"),
    CouponErrorCode.LIMIT_REACHED: _("per-user limit reached"),
    CouponErrorCode.NOT_CLAIMABLE: _("not issuing now"),
    CouponErrorCode.NOT_ELIGIBLE: _("customer not targeted"),
}


def _name_skipped_templates(grants: list[GiftPackGrant]) -> dict[Any, str]:
    """Set ``skipped_template_names`` on each grant: the names of the templates its skipped items name."""
    ids = {skip.get("template_id") for grant in grants for skip in grant.skipped or []}
    names = dict(CouponTemplate.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    for grant in grants:
        grant.skipped_template_names = names  # type: ignore[attr-defined]
    return names


def skip_reason_label(code: Any) -> str:
    label = SKIP_REASONS.get(code)
    return str(label) if label is not None else str(code)


@admin.register(GiftPackGrant)
class GiftPackGrantAdmin(admin.ModelAdmin):
    list_display = ["pack", "user", "occasion", "granted", "skipped_items", "created_at"]
    list_filter = ["pack"]
    search_fields = ["user__username", "occasion"]
    list_select_related = ["pack", "user"]
    raw_id_fields = ["user"]

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        """The page's grants, with the names of the templates their skipped items name read in one query
        for the whole page (``skipped_items``)."""
        changelist = super().get_changelist_instance(request)
        _name_skipped_templates(list(changelist.result_list))
        return changelist

    @admin.display(description=_("skipped"))
    def skipped_items(self, obj: GiftPackGrant) -> str:
        """Each skipped item as its template's name and why, in the reader's language."""
        if not obj.skipped:
            return "-"
        names = getattr(obj, "skipped_template_names", None)
        if names is None:  # one grant shown alone (its change page)
            names = _name_skipped_templates([obj])
        parts = []
        for skip in obj.skipped:
            template_id = skip.get("template_id")
            parts.append(f"{names.get(template_id, f'#{template_id}')}: {skip_reason_label(skip.get('reason'))}")
        return ", ".join(parts)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: GiftPackGrant | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: GiftPackGrant | None = None) -> bool:
        return False


@admin.register(PendingTrigger)
class PendingTriggerAdmin(admin.ModelAdmin):
    """Gift-pack occasions not given yet: normally gone within a minute; one that stays keeps failing (its
    attempts count up and the job tries it less often)."""

    list_display = ["due_at", "user", "trigger", "occasion", "attempts", "created_at"]
    list_filter = ["trigger"]
    search_fields = ["user__username", "occasion"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PendingTrigger | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PendingTrigger | None = None) -> bool:
        return False


# Bulk grants ------------------------------------------------------------------------------------


class SegmentForm(forms.Form):
    """A segment as plain form fields (no JSON): the bulk grant form and the live estimate share them."""

    everybody = forms.BooleanField(label=_("everybody"), required=False)
    levels = forms.MultipleChoiceField(
        label=_("member levels"), choices=MemberLevel.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    tags = forms.ModelMultipleChoiceField(
        label=_("tags"), queryset=MemberTag.objects.all(), required=False, to_field_name="name"
    )
    registered_after = forms.DateField(
        label=_("registered on or after"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    registered_before = forms.DateField(
        label=_("registered before"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    no_order_days = forms.IntegerField(label=_("no order for N days"), required=False, min_value=1, max_value=3650)

    def _registration_day(self, name: str) -> Any:
        day = self.cleaned_data.get(name)
        problem = registration_day_problem(day) if day is not None else None
        if problem is not None:
            raise ValidationError(problem, code="out_of_range")
        return day

    def clean_registered_after(self) -> Any:
        return self._registration_day("registered_after")

    def clean_registered_before(self) -> Any:
        return self._registration_day("registered_before")

    def raw_segment(self) -> dict[str, Any]:
        cleaned = self.cleaned_data
        raw = {
            "everybody": cleaned.get("everybody") or None,
            "levels": cleaned.get("levels") or None,
            "tags": [t.name for t in cleaned.get("tags") or []] or None,
            "registered_after": cleaned.get("registered_after"),
            "registered_before": cleaned.get("registered_before"),
            "no_order_days": cleaned.get("no_order_days"),
        }
        return {k: v for k, v in raw.items() if v is not None}


class BulkGrantForm(forms.ModelForm, SegmentForm):
    """The segment is built from plain fields; a list comes as a CSV file or pasted text."""

    # What the service refused when this form's data were saved (``BulkGrantAdmin.changeform_view``):
    # shown as this form's errors.
    refusal: ApplicationError | None = None

    template = forms.ModelChoiceField(
        queryset=CouponTemplate.objects.filter(status=TemplateStatus.APPROVED).order_by("-created_at"),
        required=False,
        label=_("template"),
    )
    gift_pack = forms.ModelChoiceField(
        queryset=GiftPack.objects.filter(is_active=True).order_by("name"), required=False, label=_("gift pack")
    )
    users_file = forms.FileField(
        label=_("list of customers (CSV)"), required=False, help_text=_("User ids or usernames, one per line.")
    )
    users_text = forms.CharField(
        label=_("or paste them"), required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 60})
    )

    class Meta:
        model = BulkGrant
        fields = ["name", "target_type", "template", "gift_pack", "scheduled_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        segment = self.instance.segment or {}
        for key in ("everybody", "levels", "registered_after", "registered_before", "no_order_days"):
            if key in segment:
                self.fields[key].initial = segment[key]
        if segment.get("tags"):
            self.fields["tags"].initial = MemberTag.objects.filter(name__in=segment["tags"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("target_type") == BulkGrantTarget.SEGMENT:
            try:
                cleaned["segment"] = clean_segment(self.raw_segment())
            except ValidationError as exc:
                for messages_ in exc.message_dict.values():
                    for message in messages_:
                        self.add_error(None, message)
        users: list[str] = []
        if cleaned.get("users_file"):
            cleaned["users_file"].seek(0)  # read again when the page is shown again with a refusal
            users += bulk_services.parse_user_list(cleaned["users_file"].read())
        if cleaned.get("users_text"):
            users += bulk_services.parse_user_list(cleaned["users_text"])
        if users:
            _ids, unknown = bulk_services.resolve_users(users)
            if unknown:
                self.add_error(
                    "users_file", gettext("Unknown customers: %(users)s") % {"users": ", ".join(unknown[:20])}
                )
        cleaned["users"] = users
        if cleaned.get("target_type") == BulkGrantTarget.USER_LIST and not users and not self._has_recipients():
            self.add_error("users_file", gettext("Upload the list of customers."))
        if bool(cleaned.get("template")) == bool(cleaned.get("gift_pack")):
            self.add_error("template", gettext("Grant either a template or a gift pack."))
        if self.refusal is not None:
            self._add_refusal(self.refusal)
        return cleaned

    def _has_recipients(self) -> bool:
        """A list stored before (a list draft saved without a new file keeps it; a segment has none)."""
        return self.instance.pk is not None and self.instance.recipients.exists()

    def _add_refusal(self, refusal: ApplicationError) -> None:
        added = False
        for key, errors in refusal.details.items():
            field = _REFUSAL_FIELDS.get(key, key)
            if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
                continue  # not messages (the unknown identifiers, a status)
            for error in errors:
                self.add_error(field if field in self.fields else None, error)
                added = True
        if not added:
            self.add_error(None, refusal.message)


# The service's names for what the form has as other fields.
_REFUSAL_FIELDS = {"users": "users_file"}


class _ServiceRefused(Exception):
    """The service refused a save the form let through (raised out of the request's transaction)."""

    def __init__(self, refusal: ApplicationError) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def progress_bar(grant: BulkGrant) -> str:
    share = progress_of(grant)
    done = grant.granted + grant.skipped_limit + grant.skipped_stock + grant.failed
    return format_html(
        '<progress value="{}" max="1" style="width:140px"></progress> {} / {}', share, done, grant.targeted
    )


def audience_text(count: int) -> str:
    return ngettext("%(count)s customer", "%(count)s customers", count) % {"count": count}


# The states in which a grant is (or is about to be) running: its progress page refreshes itself.
RUNNING_STATES = (BulkGrantStatus.APPROVED, BulkGrantStatus.RUNNING)
PROGRESS_REFRESH_SECONDS = 3


@admin.register(BulkGrant)
class BulkGrantAdmin(WorkflowAdmin):
    form = BulkGrantForm
    change_form_template = "admin/marketing/bulkgrant/change_form.html"
    list_display = ["name", "status", "target_type", "what", "scheduled_at", "progress", "granted", "created_by"]
    list_filter = ["status", "target_type"]
    search_fields = ["name"]
    list_select_related = ["template", "gift_pack", "created_by"]
    readonly_fields = [
        "status",
        "progress",
        "targeted",
        "granted",
        "skipped_limit",
        "skipped_stock",
        "failed",
        "segment",
        "created_by",
        "reviewed_by",
        "review_remark",
        "started_at",
        "finished_at",
        "last_error_text",
    ]
    formfield_overrides = MOMENT_OVERRIDES
    workflow_labels = {
        "submit": _("Submit for review"),
        "approve": _("Approve"),
        "reject": _("Reject"),
        "cancel": _("Cancel the grant"),
    }
    remark_required = frozenset({"reject"})

    class Media:
        js = ["marketing/bulk_grant_segment.js"]

    def get_urls(self) -> list[Any]:
        return [
            path(
                "estimate/",
                self.admin_site.admin_view(self.estimate_view),
                name="marketing_bulkgrant_estimate",
            ),
            path(
                "<int:object_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="marketing_bulkgrant_progress",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "estimate_url": reverse("admin:marketing_bulkgrant_estimate")}
        return super().add_view(request, form_url, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _ServiceRefused as refused:
            # The request's transaction is rolled back: the same page again, the refusal as form errors.
            request.bulk_grant_refusal = refused.refusal  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request: HttpRequest, obj: BulkGrant | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "bulk_grant_refusal", None)
        if refusal is None:
            return form
        return type(form.__name__, (form,), {"refusal": refusal})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "estimate_url": reverse("admin:marketing_bulkgrant_estimate")}
        grant = self.get_object(request, object_id)
        if grant is not None:
            extra_context["audience_size"] = bulk_grant_audience_size(grant=grant)
            extra_context["audience_text"] = audience_text(extra_context["audience_size"])
            extra_context["progress_url"] = reverse("admin:marketing_bulkgrant_progress", args=[grant.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    def estimate_view(self, request: HttpRequest) -> JsonResponse:
        """The size of the segment the form's fields describe, for the estimate shown while editing."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = SegmentForm(request.GET)
        details: dict[str, Any] = {}
        if form.is_valid():
            try:
                count = segment_size(segment=clean_segment(form.raw_segment()))
            except ValidationError as exc:
                details = exc.message_dict
            else:
                return JsonResponse({"count": count, "text": audience_text(count)})
        else:
            details = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        message = " ".join(str(m) for messages_ in details.values() for m in messages_)
        return JsonResponse(
            {"error": {"code": "VALIDATION_FAILED", "message": message, "details": details}}, status=400
        )

    def progress_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Counters and a bar; the page reloads itself every few seconds while the grant runs."""
        grant = get_object_or_404(BulkGrant.objects.select_related("template", "gift_pack"), pk=object_id)
        if not self.has_view_permission(request, grant):
            raise PermissionDenied
        running = grant.status in RUNNING_STATES
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": grant,
            "title": gettext("Progress: %(name)s") % {"name": grant},
            "change_url": reverse("admin:marketing_bulkgrant_change", args=[grant.pk]),
            "running": running,
            "refresh_seconds": PROGRESS_REFRESH_SECONDS if running else None,
            "percent": int(progress_of(grant) * 100),
            "done": grant.granted + grant.skipped_limit + grant.skipped_stock + grant.failed,
            "audience_size": bulk_grant_audience_size(grant=grant),
            "last_error": bulk_services.last_error_text(grant.last_error),
        }
        return TemplateResponse(request, "admin/marketing/bulkgrant/progress.html", context)

    def workflow_facts(self, obj: BulkGrant, action: str) -> list[tuple[Any, Any]]:
        size = bulk_grant_audience_size(grant=obj)
        facts: list[tuple[Any, Any]] = [
            (_("audience"), audience_text(size)),
            (_("grants"), self.what(obj)),
        ]
        if obj.target_type == BulkGrantTarget.SEGMENT:
            facts.append((_("segment"), segment_summary(obj.segment)))
        if obj.template is not None:
            remaining = obj.template.remaining
            facts.append((_("remaining stock"), gettext("unlimited") if remaining is None else remaining))
        return facts

    def workflow_context(self, obj: BulkGrant, action: str) -> dict[str, Any]:
        """A gift pack's coupons, as the run will read them: what Finance approves."""
        if obj.gift_pack_id is None:
            return {}
        items = list(GiftPackItem.objects.filter(pack_id=obj.gift_pack_id).select_related("template"))
        summaries = summaries_for(item.template for item in items)
        return {
            "pack_items": [
                {
                    "template": item.template.name,
                    "summary": summaries.get(item.template_id, ""),
                    "quantity": item.quantity,
                    "remaining": gettext("unlimited") if item.template.remaining is None else item.template.remaining,
                }
                for item in items
            ]
        }

    def url_after(self, obj: BulkGrant, action: str, change_url: str) -> str:
        if action == "approve":
            return reverse("admin:marketing_bulkgrant_progress", args=[obj.pk])
        return change_url

    @admin.display(description=_("grants"))
    def what(self, obj: BulkGrant) -> str:
        return str(obj.template or obj.gift_pack)

    @admin.display(description=_("progress"))
    def progress(self, obj: BulkGrant) -> str:
        return progress_bar(obj)

    @admin.display(description=_("last error"))
    def last_error_text(self, obj: BulkGrant) -> str:
        return bulk_services.last_error_text(obj.last_error)

    def get_fieldsets(self, request: HttpRequest, obj: BulkGrant | None = None) -> Any:
        editing = obj is None or obj.status == BulkGrantStatus.DRAFT
        fieldsets: list[Any] = [(None, {"fields": ["name", "target_type", "template", "gift_pack", "scheduled_at"]})]
        if editing:
            fieldsets += [
                (
                    _("Segment"),
                    {
                        "fields": [
                            "everybody",
                            "levels",
                            "tags",
                            "registered_after",
                            "registered_before",
                            "no_order_days",
                        ]
                    },
                ),
                (_("List of customers"), {"fields": ["users_file", "users_text"]}),
            ]
        if obj is not None:
            fieldsets.append((_("Run"), {"fields": self.readonly_fields}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: BulkGrant | None = None) -> Any:
        if obj is None:
            return []
        if obj.status != BulkGrantStatus.DRAFT:
            return ["name", "target_type", "template", "gift_pack", "scheduled_at", *self.readonly_fields]
        return self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: BulkGrant | None = None) -> bool:
        if obj is not None and obj.status != BulkGrantStatus.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: BulkGrant | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: BulkGrant, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        kwargs = {
            "name": data["name"],
            "target_type": data["target_type"],
            "segment": data.get("segment"),
            "users": data.get("users") or None,
            "template": data.get("template"),
            "gift_pack": data.get("gift_pack"),
            "scheduled_at": data.get("scheduled_at"),
        }
        try:
            if change:
                saved = bulk_services.bulk_grant_update(grant=obj, actor=request.user, **kwargs)
            else:
                saved = bulk_services.bulk_grant_create(actor=request.user, **kwargs)
        except PermissionDeniedError as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:  # invalid input, a grant no longer a draft: said on the form
            raise _ServiceRefused(exc) from exc
        obj.pk = saved.pk
        obj.created_by = saved.created_by

    def refusal(self, obj: BulkGrant, action: str, user: Any) -> ApplicationError | None:
        return bulk_services.transition_refusal(obj, action, user)

    def run_action(
        self, obj: BulkGrant, action: str, user: Any, remark: str, seen: datetime | None = None
    ) -> BulkGrant:
        calls: dict[str, Callable[[], BulkGrant]] = {
            "submit": lambda: bulk_services.bulk_grant_submit(grant=obj, actor=user),
            "approve": lambda: bulk_services.bulk_grant_approve(grant=obj, actor=user, remark=remark, seen=seen),
            "reject": lambda: bulk_services.bulk_grant_reject(grant=obj, actor=user, remark=remark, seen=seen),
            "cancel": lambda: bulk_services.bulk_grant_cancel(grant=obj, actor=user, remark=remark),
        }
        return calls[action]()


# Notifications ----------------------------------------------------------------------------------


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "title", "sent_at", "read_at"]
    list_filter = ["kind"]
    search_fields = ["user__username", "title"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False


@admin.register(MemberTag)
class MemberTagAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count"]
    search_fields = ["name"]

    def get_readonly_fields(self, request: HttpRequest, obj: MemberTag | None = None) -> Any:
        # Approved templates and bulk grants name their tags: a new name would change whom they reach.
        return ["name"] if obj is not None else []

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_members=Count("members"))

    @admin.display(description=_("members"), ordering="n_members")
    def member_count(self, obj: MemberTag) -> int:
        return obj.n_members  # type: ignore[attr-defined]


@admin.register(MemberProfile)
class MemberProfileAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "level",
        "user_type",
        "channel",
        "birthday",
        "invite_code",
        "registered_at",
        "last_order_at",
    ]
    list_filter = ["level", "user_type", "channel", "tags"]
    search_fields = ["user__username", "invite_code"]
    list_select_related = ["user"]
    filter_horizontal = ["tags"]
    raw_id_fields = ["user", "invited_by"]
    readonly_fields = ["user", "invite_code", "invited_by", "registered_at", "last_order_at"]
    fields = [
        "user",
        "level",
        "tags",
        "birthday",
        "user_type",
        "channel",
        "invite_code",
        "invited_by",
        "registered_at",
        "last_order_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # a profile is made with its account (registration or seed)

    def save_model(self, request, obj: MemberProfile, form, change) -> None:
        data = {name: form.cleaned_data[name] for name in ("level", "birthday", "user_type", "channel", "tags")}
        member_profile_update(profile=obj, actor=request.user, data=data)

    def save_related(self, request, form, formsets, change) -> None:
        pass  # the tags were saved by member_profile_update with the rest of the change

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
