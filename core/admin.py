from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """The trail is append-only: nobody edits or deletes it, not even a superuser."""

    list_display = ["created_at", "actor", "content_type", "object_id", "action", "from_status", "to_status"]
    # Note: no date_hierarchy; on MySQL/MariaDB it needs the server's time-zone tables (CONVERT_TZ) and
    # the list fails without them. A date filter compares instants and works everywhere.
    list_filter = ["action", "content_type", "created_at"]
    search_fields = ["remark", "actor__username"]
    list_select_related = ["actor", "content_type"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.site_header = _("Coupon back office")
admin.site.site_title = _("Coupon back office")
admin.site.index_title = _("Operations and finance")
