from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from core.admin_index import add_index_section
from coupons.providers import provide_order_facts


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders and menu")

    def ready(self) -> None:
        from core.stamps import stamp_writes
        from orders.dashboard import dashboard_context
        from orders.models import MENU_STAMP, Category, Product
        from orders.selectors import ORDER_FACTS

        provide_order_facts(ORDER_FACTS)
        add_index_section("orders", dashboard_context)
        stamp_writes(Product, MENU_STAMP)
        stamp_writes(Category, MENU_STAMP)
