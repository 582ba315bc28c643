from django.db.models import Prefetch, QuerySet

from orders.models import Category, Product


def active_menu() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True).prefetch_related(
        Prefetch("products", queryset=Product.objects.filter(is_active=True).order_by("sku"))
    )
