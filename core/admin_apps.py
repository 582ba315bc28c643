from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminConfig(AdminConfig):
    default_site = "core.admin_site.BackOfficeAdminSite"
