"""Admin for webhook endpoints (a form with event types as checkboxes; send a test event, rotate the
secret) and the delivery log (read-only; retry now). Every button calls a service."""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from webhooks.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import endpoints as endpoint_services
from webhooks.services.delivery import delivery_retry_now
from webhooks.tasks import enqueue_delivery


def masked(secret: str) -> str:
    return f"{secret[:6]}…{secret[-4:]}" if secret else ""


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "is_active"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            cleaned.update(
                endpoint_services.clean_endpoint_fields(
                    url=cleaned.get("url"),
                    description=cleaned.get("description"),
                    event_types=cleaned.get("event_types"),
                )
            )
        except ApplicationError as exc:
            for field, errors in exc.details.items():
                if field in self.errors:
                    continue  # the field's own check already said it
                for error in errors:
                    self.add_error(field if field in self.fields else None, error)
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "event_list", "is_active", "created_by", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["secret_hint", "secret_rotated_at", "created_by", "created_at", "updated_at"]
    actions = ["send_test_event", "rotate_secret", "deactivate"]

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> list[str]:
        return list(self.readonly_fields) if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> bool:
        return False  # deactivate instead: the delivery log keeps pointing at the endpoint

    @admin.display(description=_("event types"))
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types)

    @admin.display(description=_("signing secret"))
    def secret_hint(self, obj: WebhookEndpoint) -> str:
        return masked(obj.secret)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: forms.ModelForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in ("url", "description", "event_types", "is_active")}
        if change:
            saved = endpoint_services.endpoint_update(endpoint=obj, actor=request.user, **fields)
        else:
            saved = endpoint_services.endpoint_create(actor=request.user, **fields)
            self._show_secret(request, saved)
        obj.pk, obj.secret, obj.created_by = saved.pk, saved.secret, saved.created_by

    def _show_secret(self, request: HttpRequest, endpoint: WebhookEndpoint) -> None:
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code>",
                gettext("Signing secret of %(endpoint)s (shown only this once; keep it with the receiver):")
                % {"endpoint": endpoint.url},
                endpoint.secret,
            ),
            messages.WARNING,
        )

    @admin.action(description=_("Send a test event"), permissions=["change"])
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            delivery = endpoint_services.endpoint_send_test(endpoint=endpoint, actor=request.user)
            enqueue_delivery(delivery.pk)
        self.message_user(
            request, gettext("Test event queued; see the webhook deliveries for the answer."), messages.SUCCESS
        )

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            self._show_secret(request, endpoint_services.endpoint_rotate_secret(endpoint=endpoint, actor=request.user))

    @admin.action(description=_("Deactivate"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            endpoint_services.endpoint_deactivate(endpoint=endpoint, actor=request.user)
        self.message_user(request, gettext("Deactivated."), messages.SUCCESS)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = readonly_fields = ("number", "started_at", "status_code", "latency_ms", "error")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "last_latency_ms",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event_type", "endpoint"]
    search_fields = ["=event_id"]
    list_select_related = ["endpoint"]
    show_full_result_count = False
    inlines = [WebhookAttemptInline]
    fields = readonly_fields = (
        "event_id",
        "event_type",
        "endpoint",
        "occurred_at",
        "payload_json",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "last_status_code",
        "last_error",
        "last_latency_ms",
        "delivered_at",
    )
    actions = ["retry_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.retry_webhookdelivery")

    @admin.display(description=_("payload"))
    def payload_json(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, ensure_ascii=False, indent=2, sort_keys=True))

    @admin.action(description=_("Retry now"), permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        retried = 0
        for delivery in queryset:
            try:
                delivery_retry_now(delivery=delivery, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{delivery}: {exc.message}", messages.ERROR)
                continue
            enqueue_delivery(delivery.pk)
            retried += 1
        if retried:
            self.message_user(request, gettext("%(count)s deliveries queued.") % {"count": retried}, messages.SUCCESS)
