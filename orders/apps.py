from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from coupons.providers import provide_order_facts


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders and menu")

    def ready(self) -> None:
        from orders.selectors import ORDER_FACTS

        provide_order_facts(ORDER_FACTS)
