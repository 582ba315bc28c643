"""Menu sync (how a POS keeps the menu in step): create or update by code and SKU, deactivate.

The callers (admin, the staff API) check ``change_*`` on the model; creating a row needs ``add_*`` as
well, as in admin, which the upserts check themselves: only they know whether the row is new.
"""

from typing import Any

from django.db import transaction

from core.audit import audit_record
from core.review import require_perm
from orders.models import Category, Product


@transaction.atomic
def category_upsert(*, code: str, data: dict[str, Any], actor: Any) -> tuple[Category, bool]:
    category, created = Category.objects.select_for_update().get_or_create(code=code, defaults=data)
    if created:
        require_perm(actor, "orders.add_category")  # a refusal takes the new row back with the transaction
    else:
        for name, value in data.items():
            setattr(category, name, value)
        category.save()
    audit_record(subject=category, actor=actor, action="create" if created else "update", data={"code": code})
    return category, created


@transaction.atomic
def product_upsert(*, sku: str, data: dict[str, Any], actor: Any) -> tuple[Product, bool]:
    product, created = Product.objects.select_for_update().get_or_create(sku=sku, defaults=data)
    if created:
        require_perm(actor, "orders.add_product")  # a refusal takes the new row back with the transaction
    else:
        for name, value in data.items():
            setattr(product, name, value)
        product.save()
    audit_record(
        subject=product,
        actor=actor,
        action="create" if created else "update",
        data={"sku": sku, "price": str(product.price)},
    )
    return product, created


@transaction.atomic
def category_deactivate(*, category: Category, actor: Any) -> Category:
    Category.objects.filter(pk=category.pk).update(is_active=False)
    category.is_active = False
    audit_record(subject=category, actor=actor, action="deactivate")
    return category


@transaction.atomic
def product_deactivate(*, product: Product, actor: Any) -> Product:
    Product.objects.filter(pk=product.pk).update(is_active=False)
    product.is_active = False
    audit_record(subject=product, actor=actor, action="deactivate")
    return product
