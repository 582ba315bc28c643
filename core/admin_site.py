from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig

IndexSection = Callable[[], dict[str, Any]]
_index_sections: dict[str, IndexSection] = {}


def add_index_section(name: str, section: IndexSection) -> None:
    """Show ``section()``'s context on the admin index; each app adds its own part of the dashboard."""
    _index_sections[name] = section


class BackOfficeAdminSite(admin.AdminSite):
    """Django admin whose index opens with the operations dashboard."""

    index_template = "admin/backoffice_index.html"

    def index(self, request, extra_context=None):
        sections: dict[str, Any] = {}
        for section in _index_sections.values():
            sections.update(section())
        extra_context = {**(extra_context or {}), **sections}
        return super().index(request, extra_context)


class BackOfficeAdminConfig(AdminConfig):
    default_site = "core.admin_site.BackOfficeAdminSite"
