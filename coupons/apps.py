from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from core.admin_index import add_index_section


class CouponsConfig(AppConfig):
    name = "coupons"
    verbose_name = _("Coupons")

    def ready(self) -> None:
        from coupons.dashboard import dashboard_context

        add_index_section("coupons", dashboard_context)
