from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminSite(admin.AdminSite):
    """Django admin whose index opens with the operations dashboard."""

    index_template = "admin/backoffice_index.html"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Imported here: this module is loaded with the app registry, before any model.
        from core.admin_login import LockoutAuthenticationForm

        self.login_form = LockoutAuthenticationForm

    def index(self, request, extra_context=None):
        from core.dashboard import dashboard_context

        extra_context = {**(extra_context or {}), **dashboard_context(request.GET)}
        return super().index(request, extra_context)


class BackOfficeAdminConfig(AdminConfig):
    default_site = "core.admin_site.BackOfficeAdminSite"
