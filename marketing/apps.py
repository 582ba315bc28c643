from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from core.admin_index import add_index_section


class MarketingConfig(AppConfig):
    name = "marketing"
    verbose_name = _("Marketing")

    def ready(self) -> None:
        # The tasks register with Celery here, in every process: services enqueue them by name.
        from marketing import subscribers, tasks  # noqa: F401
        from marketing.dashboard import dashboard_context

        subscribers.connect()
        add_index_section("marketing", dashboard_context)
