from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet, Sum

from core.rows import Column, PlainSelect, placeholders
from coupons.models import CouponStatus, CouponTemplate, UserCoupon
from coupons.providers import OrderFacts
from orders.models import Category, Order, OrderCoupon, OrderLine, OrderStatus, Product
from orders.pricing import (
    HELD_COUPON_FIELDS,
    HELD_TEMPLATE_FIELDS,
    HELD_TEMPLATE_JSON,
    HeldCoupon,
    MenuProduct,
    held_coupons,
)


def active_menu() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True).prefetch_related(
        Prefetch("products", queryset=Product.objects.filter(is_active=True).order_by("sku"))
    )


# Checkout and orders --------------------------------------------------------------------------


# Checkout reads rows, not model instances (see orders.pricing): one plain SELECT each, built once per
# process from the models' metadata.


def _products_select(qn) -> tuple[str, list[Column]]:
    fields = [Product._meta.get_field(name) for name in ("id", "sku", "name", "price")]
    category = Product._meta.get_field("category")
    tables = (
        f"{qn(Product._meta.db_table)} p INNER JOIN {qn(Category._meta.db_table)} c "
        f"ON c.{qn(Category._meta.pk.column)} = p.{qn(category.column)}"
    )
    return tables, [*(Column(field, "p") for field in fields), Column(Category._meta.get_field("code"), "c")]


_PRODUCTS = PlainSelect(_products_select)


def orderable_products(*, skus: Iterable[str]) -> dict[str, MenuProduct]:
    """Products a customer may order now (active, in an active category) by sku, with their category's
    code: one query, whatever the number of skus."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    rows = _PRODUCTS.rows(_products_where(connection.vendor, len(wanted)), [*wanted, True, True])
    return {row[1]: MenuProduct(*row) for row in rows}


def _held_select(qn) -> tuple[str, list[Column]]:
    coupon_fields = [UserCoupon._meta.get_field(name) for name in HELD_COUPON_FIELDS]
    template_fields = [CouponTemplate._meta.get_field(name) for name in HELD_TEMPLATE_FIELDS]
    tables = (
        f"{qn(UserCoupon._meta.db_table)} uc INNER JOIN {qn(CouponTemplate._meta.db_table)} t "
        f"ON t.{qn(CouponTemplate._meta.pk.column)} = uc.{qn(UserCoupon._meta.get_field('template').column)}"
    )
    columns = [Column(field, "uc") for field in coupon_fields]
    columns += [Column(field, "t", raw=field.name in HELD_TEMPLATE_JSON) for field in template_fields]
    return tables, columns


_HELD = PlainSelect(_held_select)


def _column(model: Any, name: str, table: str) -> str:
    return f"{table}.{connection.ops.quote_name(model._meta.get_field(name).column)}"


# The WHERE clauses, by database vendor and the length of the id list.
@lru_cache(maxsize=256)
def _products_where(vendor: str, skus: int) -> str:
    return (
        f"WHERE {_column(Product, 'sku', 'p')} IN ({placeholders(skus)}) AND {_column(Product, 'is_active', 'p')} = %s "
        f"AND {_column(Category, 'is_active', 'c')} = %s"
    )


@lru_cache(maxsize=256)
def _wallet_where(vendor: str, ids: int) -> str:
    owner, status = _column(UserCoupon, "user", "uc"), _column(UserCoupon, "status", "uc")
    if not ids:
        return f"WHERE {owner} = %s AND {status} = %s"
    return f"WHERE {owner} = %s AND ({status} = %s OR {_column(UserCoupon, 'id', 'uc')} IN ({placeholders(ids)}))"


@lru_cache(maxsize=256)
def _chosen_where(vendor: str, ids: int) -> str:
    owner, pk = _column(UserCoupon, "user", "uc"), _column(UserCoupon, "id", "uc")
    return f"WHERE {owner} = %s AND {pk} IN ({placeholders(ids)}) ORDER BY {pk}"


def checkout_coupons_for(*, user: Any, coupon_ids: Iterable[int] = ()) -> list[HeldCoupon]:
    """What checkout considers, with templates, in one query: every UNUSED coupon of the customer
    (also those past expiry the sweep has not reached: the engine says EXPIRED) and the chosen ones
    whatever their status. Never another customer's."""
    ids = sorted(set(coupon_ids))
    # Unordered: the preview sorts its answer itself, and a filesort of the wallet costs more.
    where = _wallet_where(connection.vendor, len(ids))
    return held_coupons(_HELD.rows(where, [user.pk, CouponStatus.UNUSED.value, *ids]))


def chosen_coupons_for(*, user: Any, coupon_ids: Iterable[int]) -> list[HeldCoupon]:
    """The customer's coupons among ``coupon_ids`` (any status), with templates; others' ids are left out."""
    ids = sorted(set(coupon_ids))
    if not ids:
        return []
    return held_coupons(_HELD.rows(_chosen_where(connection.vendor, len(ids)), [user.pk, *ids]))


def _order_details(qs: QuerySet[Order]) -> QuerySet[Order]:
    return qs.prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("is_gift", "id")),
        Prefetch("applied_coupons", queryset=OrderCoupon.objects.select_related("coupon__template").order_by("id")),
    )


def orders_for(*, user: Any, status: str | None = None) -> QuerySet[Order]:
    """A customer's orders, newest first, with lines and coupons prefetched."""
    qs = Order.objects.filter(user_id=user.pk).order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    return _order_details(qs)


def order_detail(*, pk: int, user: Any | None = None) -> Order | None:
    """One order with its lines and coupons; with ``user``, only when it is theirs (None otherwise:
    the API answers 404 for another customer's order)."""
    qs = Order.objects.filter(pk=pk)
    if user is not None:
        qs = qs.filter(user_id=user.pk)
    return _order_details(qs).first()


def order_of(*, user: Any, pk: int) -> Order | None:
    """The customer's order ``pk`` without its details (None when it is not theirs)."""
    return Order.objects.filter(pk=pk, user_id=user.pk).first()


def known_skus(skus: Iterable[str]) -> set[str]:
    return set(Product.objects.filter(sku__in=list(skus)).values_list("sku", flat=True))


def known_categories(codes: Iterable[str]) -> set[str]:
    return set(Category.objects.filter(code__in=list(codes)).values_list("code", flat=True))


def coupon_discounts_by_template(start: datetime, end: datetime) -> dict[int, Decimal]:
    """Template id -> the discount its coupons USED in [start, end) gave to their orders."""
    rows = (
        OrderCoupon.objects.filter(
            coupon__status=CouponStatus.USED, coupon__used_at__gte=start, coupon__used_at__lt=end
        )
        .values("coupon__template_id")
        .annotate(total=Sum("discount"))
        .order_by()
    )
    return {row["coupon__template_id"]: row["total"] for row in rows}


def orders_placed_since(cutoff: datetime) -> QuerySet[Order]:
    return Order.objects.filter(created_at__gte=cutoff).exclude(status=OrderStatus.CANCELLED)


def menu_names(skus: Iterable[str], codes: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    skus, codes = set(skus), set(codes)
    dishes = dict(Product.objects.filter(sku__in=skus).values_list("sku", "name")) if skus else {}
    categories = dict(Category.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}
    return dishes, categories


def dish_price(sku: str) -> Decimal | None:
    return Product.objects.filter(sku=sku).values_list("price", flat=True).first()


def menu_pickers() -> tuple[Any, Any, Any, Any]:
    # Admin's autocomplete view finds the searched model through a relation: OrderLine.product leads
    # to dishes, Product.category to categories.
    return Product, Category, OrderLine._meta.get_field("product"), Product._meta.get_field("category")


ORDER_FACTS = OrderFacts(
    known_skus=known_skus,
    known_categories=known_categories,
    discounts_by_template=coupon_discounts_by_template,
    orders_placed_since=orders_placed_since,
    menu_names=menu_names,
    dish_price=dish_price,
    menu_pickers=menu_pickers,
)
