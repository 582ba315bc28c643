"""The back office's admin site; loaded through ``BackOfficeAdminConfig.default_site`` once models are ready."""

from django.contrib import admin

from core.admin_index import index_sections
from core.admin_login import LockoutAuthenticationForm
from core.dayrange import range_context


class BackOfficeAdminSite(admin.AdminSite):
    """Django admin whose index opens with the operations dashboard."""

    index_template = "admin/backoffice_index.html"
    login_form = LockoutAuthenticationForm

    def index(self, request, extra_context=None):
        span, context = range_context(request.GET)
        for section in index_sections():
            context.update(section(span))
        extra_context = {**(extra_context or {}), **context}
        return super().index(request, extra_context)
