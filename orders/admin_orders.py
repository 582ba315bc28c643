"""Orders in admin: read-only breakdowns (lines, coupon allocations, gifts, audit trail), and a cancel
for unpaid orders that calls the same service as the API (``orders.services.order_cancel``)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.audit import audit_trail_for
from core.errors import ApplicationError
from orders.models import Order, OrderCoupon, OrderLine, OrderStatus
from orders.services import order_cancel
from orders.services.lifecycle import STAFF_REASON, can_transition, cancel_reason_text, cancel_refusal

STATUS_COLOURS = {
    OrderStatus.PENDING_PAYMENT: "#d39e00",
    OrderStatus.PAID: "#0069d9",
    OrderStatus.COMPLETED: "#218838",
    OrderStatus.CANCELLED: "#5a6268",
    OrderStatus.REFUNDED: "#c82333",
}


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderLineInline(_ReadOnlyInline):
    model = OrderLine
    verbose_name_plural = _("lines")
    fields = readonly_fields = ("sku", "name", "category_code", "unit_price", "quantity", "line_subtotal", "discount")

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return super().get_queryset(request).filter(is_gift=False)


class GiftLineInline(_ReadOnlyInline):
    model = OrderLine
    verbose_name = _("gift")
    verbose_name_plural = _("gifts (price 0)")
    fields = readonly_fields = ("sku", "name", "quantity", "unit_price", "gift_coupon")

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return super().get_queryset(request).filter(is_gift=True).select_related("gift_coupon")


class OrderCouponInline(_ReadOnlyInline):
    model = OrderCoupon
    verbose_name_plural = _("coupons applied")
    fields = readonly_fields = (
        "coupon",
        "coupon_template",
        "coupon_status",
        "discount",
        "gift_worth",
        "allocation_display",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderCoupon]:
        return super().get_queryset(request).select_related("coupon__template")

    # Note: not named ``template``, which is the inline's own template path.
    @admin.display(description=_("template"))
    def coupon_template(self, obj: OrderCoupon) -> str:
        return str(obj.coupon.template)

    @admin.display(description=_("coupon status now"))
    def coupon_status(self, obj: OrderCoupon) -> str:
        return obj.coupon.get_status_display()

    @admin.display(description=_("allocation by SKU"))
    def allocation_display(self, obj: OrderCoupon) -> str:
        return ", ".join(f"{sku}: {amount}" for sku, amount in sorted((obj.allocation or {}).items()))


class CancelOrderForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=200, required=False)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "status_badge", "channel", "subtotal", "discount_total", "total", "created_at"]
    # Note: a created_at list filter instead of date_hierarchy. On MySQL/MariaDB date_hierarchy needs the
    # server's time-zone tables (CONVERT_TZ) and the list fails without them; this filter compares
    # instants computed in the business time zone and works everywhere.
    list_filter = ["status", "channel", "created_at"]
    search_fields = ["=id", "user__username"]
    list_select_related = ["user"]
    ordering = ["-created_at", "-id"]
    inlines = [OrderLineInline, GiftLineInline, OrderCouponInline]
    actions = ["cancel_selected"]
    fields = readonly_fields = (
        "user",
        "status",
        "channel",
        "subtotal",
        "discount_total",
        "total",
        "created_at",
        "paid_at",
        "cancelled_at",
        "refunded_at",
        "reason_for_cancel",
    )

    @admin.display(description=_("cancel reason"))
    def reason_for_cancel(self, obj: Order) -> str:
        return cancel_reason_text(obj.cancel_reason)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Order) -> str:
        return format_html(
            '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;white-space:nowrap">{}</span>',
            STATUS_COLOURS.get(obj.status, "#6c757d"),  # type: ignore[call-overload]
            obj.get_status_display(),
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Order], search_term: str):
        # "=id" with a non-numeric term would be a database error on some backends; search names only.
        if search_term and not search_term.strip().isdigit():
            return queryset.filter(user__username__icontains=search_term.strip()), False
        return super().get_search_results(request, queryset, search_term)

    # Orders are written by checkout and moved by the lifecycle services only.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_cancel_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return request.user.has_perm("orders.cancel_order")

    @admin.action(description=_("Cancel the selected unpaid orders"), permissions=["cancel"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        cancelled, refused = 0, []
        for order in queryset.order_by("pk"):
            try:
                order_cancel(order=order, actor=request.user, reason=STAFF_REASON)
            except ApplicationError:
                refused.append(str(order))
            else:
                cancelled += 1
        if cancelled:
            self.message_user(request, gettext("Cancelled %(n)s orders.") % {"n": cancelled}, messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                gettext("Not cancelled (no longer unpaid): %(orders)s") % {"orders": ", ".join(refused)},
                messages.WARNING,
            )

    def get_urls(self):
        return [
            path(
                "<int:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="orders_order_cancel",
            ),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if obj is not None:
            extra_context["can_cancel"] = self.has_cancel_permission(request, obj) and can_transition(
                obj, OrderStatus.CANCELLED
            )
            extra_context["audit_trail"] = audit_trail_for(obj)
        return super().change_view(request, object_id, form_url, extra_context)

    def cancel_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        order = get_object_or_404(Order, pk=object_id)
        if not (self.has_view_permission(request, order) and self.has_cancel_permission(request, order)):
            raise PermissionDenied
        change_url = reverse("admin:orders_order_change", args=[order.pk])
        if request.method != "POST" and not can_transition(order, OrderStatus.CANCELLED):
            # A page drawn before the order was paid or cancelled: say so on the order's page (a POST is
            # refused by the service, with the same message).
            self.message_user(request, cancel_refusal(order).message, messages.ERROR)
            return HttpResponseRedirect(change_url)
        form = CancelOrderForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                order_cancel(
                    order=order,
                    actor=request.user,
                    reason=form.cleaned_data["reason"] or STAFF_REASON,
                )
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, gettext("The order was cancelled."), messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": order,
            "title": gettext("Cancel order %(order)s") % {"order": order},
            "form": form,
        }
        return TemplateResponse(request, "admin/orders/order/cancel.html", context)
