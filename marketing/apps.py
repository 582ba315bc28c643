from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from core.admin_index import add_index_section


class MarketingConfig(AppConfig):
    name = "marketing"
    verbose_name = _("Marketing")

    def ready(self) -> None:
        from marketing import subscribers
        from marketing.dashboard import dashboard_context

        subscribers.connect()
        add_index_section("marketing", dashboard_context)
