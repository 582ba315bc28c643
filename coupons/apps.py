from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from core.admin_index import add_index_section


class CouponsConfig(AppConfig):
    name = "coupons"
    verbose_name = _("Coupons")

    def ready(self) -> None:
        from core.stamps import stamp_writes
        from coupons.dashboard import dashboard_context
        from coupons.models import TEMPLATE_STAMPED_FIELDS, TEMPLATES_STAMP, CouponTemplate

        add_index_section("coupons", dashboard_context)
        stamp_writes(CouponTemplate, TEMPLATES_STAMP, only=TEMPLATE_STAMPED_FIELDS)
