from typing import Any

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.actions import action_label
from core.models import AuditLog

# The apps whose objects the trail records; Django's own (auth, sessions, ...) never appear in it.
PROJECT_APPS = ("coupons", "marketing", "orders", "core")


class ObjectTypeFilter(admin.SimpleListFilter):
    """This project's models that appear in the trail, by their translated names."""

    title = _("object type")
    parameter_name = "content_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        named = []
        recorded = AuditLog.objects.order_by().values("content_type_id").distinct()
        for content_type in ContentType.objects.filter(app_label__in=PROJECT_APPS, pk__in=recorded):
            model = content_type.model_class()
            if model is not None:
                named.append((str(content_type.pk), str(model._meta.verbose_name)))
        return sorted(named, key=lambda pair: pair[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditLog]) -> QuerySet[AuditLog]:
        if self.value() and self.value().isdigit():  # type: ignore[union-attr]
            return queryset.filter(content_type_id=int(self.value()))  # type: ignore[arg-type]
        return queryset


class ActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        actions = AuditLog.objects.order_by().values_list("action", flat=True).distinct()
        return sorted(((a, action_label(a)) for a in actions), key=lambda pair: pair[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditLog]) -> QuerySet[AuditLog]:
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """The trail is append-only: nobody edits or deletes it, not even a superuser."""

    list_display = ["created_at", "actor", "object_type", "object_name", "action_display", "from_display", "to_display"]
    # Note: no date_hierarchy; on MySQL/MariaDB it needs the server's time-zone tables (CONVERT_TZ) and
    # the list fails without them. A date filter compares instants and works everywhere.
    list_filter = [ActionFilter, ObjectTypeFilter, "created_at"]
    search_fields = ["remark", "actor__username"]
    list_select_related = ["actor", "content_type"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditLog]:
        return super().get_queryset(request).prefetch_related("subject")

    @admin.display(description=_("object type"), ordering="content_type")
    def object_type(self, obj: AuditLog) -> str:
        model = obj.content_type.model_class()
        return str(model._meta.verbose_name) if model else obj.content_type.model

    @admin.display(description=_("object"))
    def object_name(self, obj: AuditLog) -> str:
        subject = obj.subject
        if subject is None:
            return f"#{obj.object_id}"
        meta = subject._meta
        try:
            url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[subject.pk])
        except NoReverseMatch:
            return str(subject)
        return format_html('<a href="{}">{}</a>', url, str(subject))

    @admin.display(description=_("action"), ordering="action")
    def action_display(self, obj: AuditLog) -> str:
        return obj.action_label

    @admin.display(description=_("from"))
    def from_display(self, obj: AuditLog) -> str:
        return obj.from_label

    @admin.display(description=_("to"))
    def to_display(self, obj: AuditLog) -> str:
        return obj.to_label

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.site_header = _("Coupon back office")
admin.site.site_title = _("Coupon back office")
admin.site.index_title = _("Operations and finance")
