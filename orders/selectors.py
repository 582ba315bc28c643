from collections.abc import Iterable, Sequence
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
from orders.pricing import HELD_COUPON_FIELDS, HeldCoupon, MenuProduct, parsed_definition


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
    # The coupon's fields and its template's version: the template's definition and names are read
    # apart, when this process has not read that version yet (_templates).
    coupon_fields = [UserCoupon._meta.get_field(name) for name in HELD_COUPON_FIELDS]
    tables = (
        f"{qn(UserCoupon._meta.db_table)} uc INNER JOIN {qn(CouponTemplate._meta.db_table)} t "
        f"ON t.{qn(CouponTemplate._meta.pk.column)} = uc.{qn(UserCoupon._meta.get_field('template').column)}"
    )
    columns = [Column(field, "uc") for field in coupon_fields]
    return tables, [*columns, Column(CouponTemplate._meta.get_field("updated_at"), "t", compared=True)]


_HELD = PlainSelect(_held_select)
_TEMPLATE_ID, _TEMPLATE_VERSION = len(HELD_COUPON_FIELDS) - 1, len(HELD_COUPON_FIELDS)

# HeldCoupon's template fields, in its order; value and usage rules are read as text.
HELD_TEMPLATE_FIELDS = ("name", "short_name", "type", "value", "usage_rules")


def _templates_select(qn) -> tuple[str, list[Column]]:
    fields = [CouponTemplate._meta.get_field(name) for name in HELD_TEMPLATE_FIELDS]
    columns = [
        Column(CouponTemplate._meta.pk, "t"),
        Column(CouponTemplate._meta.get_field("updated_at"), "t", compared=True),
        *(Column(field, "t", raw=field.name in ("value", "usage_rules")) for field in fields),
    ]
    return f"{qn(CouponTemplate._meta.db_table)} t", columns


_TEMPLATES = PlainSelect(_templates_select)

# What this process has read, kept while it is unchanged. A template's version is its ``updated_at``:
# its definition and names change only through ``save()``, which moves it (and once approved they never
# change). By template id: (version, name, short_name, type, value, usage rules), the JSON parsed.
_KNOWN_TEMPLATES: dict[int, tuple[Any, ...]] = {}
_KNOWN_TEMPLATES_MAX = 4096
# By coupon id: the coupon's row as the driver gave it (its template's version last) and the HeldCoupon
# made from it. A row equal in every column makes the same HeldCoupon, so it is handed out again, with
# its datetimes parsed and, in orders.pricing, its engine Coupon made once.
_KNOWN_COUPONS: dict[int, tuple[Sequence[Any], HeldCoupon]] = {}
_KNOWN_COUPONS_MAX = 8192


def _templates(versions: dict[int, Any]) -> dict[int, tuple[Any, ...]]:
    """The templates of ``versions`` (id -> version) at that version or later: those this process has
    not read at that version in one query."""
    found: dict[int, tuple[Any, ...]] = {}
    missing = []
    for template_id, version in versions.items():
        known = _KNOWN_TEMPLATES.get(template_id)
        if known is not None and known[0] == version:
            found[template_id] = known
        else:
            missing.append(template_id)
    if missing:
        missing.sort()
        rows = _TEMPLATES.rows(_templates_where(connection.vendor, len(missing)), missing)
        if len(_KNOWN_TEMPLATES) + len(rows) > _KNOWN_TEMPLATES_MAX:
            _KNOWN_TEMPLATES.clear()
        for template_id, version, name, short_name, type_, value, usage_rules in rows:
            found[template_id] = _KNOWN_TEMPLATES[template_id] = (
                version, name, short_name, type_, parsed_definition(value), parsed_definition(usage_rules)
            )  # fmt: skip
    return found


def _held_coupons(rest: str, params: list[Any]) -> list[HeldCoupon]:
    """The wallet query's coupons: those whose row is unchanged as kept, the others made (in the
    driver's order either way)."""
    fetched = _HELD.fetch(rest, params)
    held: list[HeldCoupon | None] = []
    new = []
    for row in fetched:
        known = _KNOWN_COUPONS.get(row[0])
        if known is not None and known[0] == row:
            held.append(known[1])
        else:
            held.append(None)
            new.append(row)
    if not new:
        return held  # type: ignore[return-value]
    templates = _templates({row[_TEMPLATE_ID]: row[_TEMPLATE_VERSION] for row in new})
    if len(_KNOWN_COUPONS) + len(new) > _KNOWN_COUPONS_MAX:
        _KNOWN_COUPONS.clear()
    made = iter(_HELD.convert(new))
    result = []
    for row, coupon in zip(fetched, held, strict=True):
        if coupon is None:
            values = next(made)
            template = templates.get(row[_TEMPLATE_ID])
            if template is None:  # deleted since, and so its coupons
                continue
            coupon = HeldCoupon._make((*values[:_TEMPLATE_VERSION], *template[1:]))
            # Kept under the version of the template it was made with (read now, maybe newer than the row's).
            _KNOWN_COUPONS[row[0]] = ((*row[:_TEMPLATE_VERSION], template[0]), coupon)
        result.append(coupon)
    return result


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
def _templates_where(vendor: str, ids: int) -> str:
    return f"WHERE {_column(CouponTemplate, 'id', 't')} IN ({placeholders(ids)})"


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
    """What checkout considers, with templates, in one query (and one more for templates this process
    has not read at their current version): every UNUSED coupon of the customer (also those past
    expiry the sweep has not reached: the engine says EXPIRED) and the chosen ones whatever their
    status. Never another customer's."""
    ids = sorted(set(coupon_ids))
    # Unordered: the preview sorts its answer itself, and a filesort of the wallet costs more.
    where = _wallet_where(connection.vendor, len(ids))
    return _held_coupons(where, [user.pk, CouponStatus.UNUSED.value, *ids])


def chosen_coupons_for(*, user: Any, coupon_ids: Iterable[int]) -> list[HeldCoupon]:
    """The customer's coupons among ``coupon_ids`` (any status), with templates; others' ids are left out."""
    ids = sorted(set(coupon_ids))
    if not ids:
        return []
    return _held_coupons(_chosen_where(connection.vendor, len(ids)), [user.pk, *ids])


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
