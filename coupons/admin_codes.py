"""Admin for redemption-code batches: generate (through ``code_batch_create``), list, download CSV."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from core.forms import MOMENT_OVERRIDES
from coupons.exports import code_batch_csv
from coupons.models import CouponTemplate, RedemptionCodeBatch, TemplateStatus
from coupons.services.codes import MAX_BATCH_QUANTITY, batch_beyond_stock, batch_expiry, code_batch_create


class CodeBatchForm(forms.ModelForm):
    template = forms.ModelChoiceField(
        queryset=CouponTemplate.objects.filter(status=TemplateStatus.APPROVED).order_by("-created_at"),
        label=_("template"),
        help_text=_("Approved templates only."),
    )
    quantity = forms.IntegerField(label=_("quantity"), min_value=1, max_value=MAX_BATCH_QUANTITY)

    class Meta:
        model = RedemptionCodeBatch
        fields = ["name", "template", "quantity", "expires_at"]
        help_texts = {
            "expires_at": _(
                "At the latest when the template stops issuing coupons. Empty: then, or never if the template "
                "has no end."
            )
        }

    def clean_expires_at(self) -> Any:
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(gettext("The codes must expire in the future."))
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        template, quantity = cleaned.get("template"), cleaned.get("quantity")
        if template is not None and quantity is not None:
            message = batch_beyond_stock(template, quantity)
            if message is not None:
                self.add_error("quantity", message)
        if template is not None and "expires_at" in cleaned:
            message = batch_expiry(template, cleaned["expires_at"])[1]
            if message is not None:
                self.add_error("expires_at", message)
        return cleaned


# The codes themselves are bearer money: reading them (the CSV) needs this, not just seeing the batches.
CODES_PERM = "coupons.view_redemptioncode"


def _without_download(request: HttpRequest, names: Any) -> list[str]:
    return list(names) if request.user.has_perm(CODES_PERM) else [n for n in names if n != "download"]


class RedemptionCodeBatchAdmin(admin.ModelAdmin):
    form = CodeBatchForm
    formfield_overrides = MOMENT_OVERRIDES
    list_display = ["name", "template", "quantity", "redeemed", "expires_at", "created_by", "created_at", "download"]
    list_select_related = ["template", "created_by"]
    search_fields = ["name", "template__name"]
    list_filter = ["template"]
    readonly_fields = ["name", "template", "quantity", "expires_at", "created_by", "created_at", "redeemed", "download"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RedemptionCodeBatch]:
        return (
            super()
            .get_queryset(request)
            .annotate(redeemed_count=Count("codes", filter=Q(codes__redeemed_at__isnull=False)))
        )

    def get_list_display(self, request: HttpRequest) -> Any:
        return _without_download(request, super().get_list_display(request))

    def get_readonly_fields(self, request: HttpRequest, obj: RedemptionCodeBatch | None = None) -> Any:
        return [] if obj is None else _without_download(request, self.readonly_fields)

    def get_fields(self, request: HttpRequest, obj: RedemptionCodeBatch | None = None) -> Any:
        if obj is None:
            return ["name", "template", "quantity", "expires_at"]
        return _without_download(request, self.readonly_fields)

    @admin.display(description=_("redeemed"))
    def redeemed(self, obj: RedemptionCodeBatch) -> int:
        return getattr(obj, "redeemed_count", None) or obj.codes.filter(redeemed_at__isnull=False).count()

    @admin.display(description=_("codes"))
    def download(self, obj: RedemptionCodeBatch) -> str:
        url = reverse("admin:coupons_redemptioncodebatch_csv", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Download CSV"))

    def has_change_permission(self, request: HttpRequest, obj: RedemptionCodeBatch | None = None) -> bool:
        return False  # a batch is generated once; it is never edited

    def has_delete_permission(self, request: HttpRequest, obj: RedemptionCodeBatch | None = None) -> bool:
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        """A refusal the form could not foresee (the template stopped or its stock taken meanwhile) is
        shown on the add page again; nothing was written."""
        try:
            return super().add_view(request, form_url, extra_context)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: RedemptionCodeBatch, form: forms.ModelForm, change: bool) -> None:
        batch = code_batch_create(
            template=form.cleaned_data["template"],
            name=form.cleaned_data["name"],
            quantity=form.cleaned_data["quantity"],
            expires_at=form.cleaned_data.get("expires_at"),
            actor=request.user,
        )
        obj.pk = batch.pk
        obj.created_by = batch.created_by

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:object_id>/codes.csv",
                self.admin_site.admin_view(self.csv_view),
                name="coupons_redemptioncodebatch_csv",
            ),
            *super().get_urls(),
        ]

    def csv_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not (self.has_view_permission(request) and request.user.has_perm(CODES_PERM)):
            raise PermissionDenied
        return code_batch_csv(get_object_or_404(RedemptionCodeBatch, pk=object_id))  # type: ignore[return-value]


admin.site.register(RedemptionCodeBatch, RedemptionCodeBatchAdmin)
