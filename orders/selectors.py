from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import F, Prefetch, QuerySet, Sum

from core.models import Stamp
from core.rows import Column, PlainSelect, placeholders
from core.stamps import token_sql
from coupons.models import TEMPLATES_STAMP, CouponStatus, CouponTemplate, UserCoupon
from coupons.providers import OrderFacts
from orders.models import MENU_STAMP, Category, Order, OrderCoupon, OrderLine, OrderStatus, Product
from orders.pricing import HELD_COUPON_FIELDS, HeldCoupon, MenuProduct, parsed_definition


def active_menu() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True).prefetch_related(
        Prefetch("products", queryset=Product.objects.filter(is_active=True).order_by("sku"))
    )


# Checkout and orders --------------------------------------------------------------------------


# Checkout reads rows, not model instances (see orders.pricing): plain SELECTs, each built once per
# process from the models' metadata. What it read is kept for the process under the stamps of the menu
# and of the templates (core.stamps), which the wallet query reads with the coupons: while a stamp is
# the same, nothing it stands for has changed, and a change is seen by the very next request.


def _products_select(qn) -> tuple[str, list[Column]]:
    fields = [Product._meta.get_field(name) for name in ("id", "sku", "name", "price")]
    category = Product._meta.get_field("category")
    tables = (
        f"{qn(Product._meta.db_table)} p INNER JOIN {qn(Category._meta.db_table)} c "
        f"ON c.{qn(Category._meta.pk.column)} = p.{qn(category.column)}"
    )
    return tables, [*(Column(field, "p") for field in fields), Column(Category._meta.get_field("code"), "c")]


_PRODUCTS = PlainSelect(_products_select)

# The dishes read under one menu stamp, by sku (None: not orderable).
_KEPT_DISHES: tuple[int | None, dict[str, MenuProduct | None]] = (None, {})
_KEPT_DISHES_MAX = 8192


def orderable_products(*, skus: Iterable[str], menu: int | None = None) -> dict[str, MenuProduct]:
    """Products a customer may order now (active, in an active category) by sku, with their category's
    code: one query, whatever the number of skus. ``menu`` is the menu's stamp as a statement of this
    request read it (``checkout_wallet``): the dishes this process read under that stamp are not read
    again, and when none is missing there is no query."""
    global _KEPT_DISHES
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    if menu is None:
        return _read_products(wanted)
    token, kept = _KEPT_DISHES
    if token != menu:
        kept = {}
    missing = [sku for sku in wanted if sku not in kept]
    if missing:
        found = _read_products(missing)
        if len(kept) + len(missing) > _KEPT_DISHES_MAX:
            kept = {sku: kept[sku] for sku in wanted if sku in kept}
        for sku in missing:
            kept[sku] = found.get(sku)
        _KEPT_DISHES = (menu, kept)
    return {sku: product for sku in wanted if (product := kept[sku]) is not None}


def _read_products(skus: list[str]) -> dict[str, MenuProduct]:
    rows = _PRODUCTS.rows(_products_where(connection.vendor, len(skus)), [*skus, True, True])
    return {row[1]: MenuProduct(*row) for row in rows}


def _held_select(qn) -> tuple[str, list[Column]]:
    # The coupon's fields, then the stamps of the menu and of the templates (NULL if missing).
    coupon_fields = [UserCoupon._meta.get_field(name) for name in HELD_COUPON_FIELDS]
    token = Stamp._meta.get_field("token")
    stamps = [Column(token, "", sql=token_sql(name, qn)) for name in (MENU_STAMP, TEMPLATES_STAMP)]
    return f"{qn(UserCoupon._meta.db_table)} uc", [*(Column(field, "uc") for field in coupon_fields), *stamps]


_HELD = PlainSelect(_held_select)
_TEMPLATE_ID, _MENU, _TEMPLATES = len(HELD_COUPON_FIELDS) - 1, len(HELD_COUPON_FIELDS), len(HELD_COUPON_FIELDS) + 1


def _templates_select(qn) -> tuple[str, list[Column]]:
    # HeldCoupon's template fields, in its order; value and usage rules are read as text.
    fields = [CouponTemplate._meta.get_field(name) for name in ("name", "short_name", "type")]
    text = [CouponTemplate._meta.get_field(name) for name in ("value", "usage_rules")]
    columns = [
        Column(CouponTemplate._meta.pk, "t"),
        *(Column(field, "t") for field in fields),
        *(Column(field, "t", raw=True) for field in text),
    ]
    return f"{qn(CouponTemplate._meta.db_table)} t", columns


_TEMPLATE_ROWS = PlainSelect(_templates_select)

# The templates read under one templates stamp, by id: (name, short_name, type, value, usage rules),
# the JSON parsed.
_KEPT_TEMPLATES: tuple[int | None, dict[int, tuple[Any, ...]]] = (None, {})
_KEPT_TEMPLATES_MAX = 4096
# By coupon id: the wallet query's row (the stamps last) and the HeldCoupon made from it. A row equal in
# every column makes the same HeldCoupon, so it is handed out again, with its datetimes parsed and, in
# orders.pricing, its engine Coupon made once.
_KEPT_COUPONS: dict[int, tuple[Sequence[Any], HeldCoupon]] = {}
_KEPT_COUPONS_MAX = 8192


def _templates(ids: set[int], stamp: int | None) -> dict[int, tuple[Any, ...]]:
    """The templates ``ids`` by id: those this process read under ``stamp`` as kept, the others in
    one query."""
    global _KEPT_TEMPLATES
    token, kept = _KEPT_TEMPLATES
    if stamp is None or token != stamp:
        kept = {}
    missing = sorted(ids - kept.keys())
    if not missing:
        return kept
    found = {
        template_id: (name, short_name, type_, parsed_definition(value), parsed_definition(usage_rules))
        for template_id, name, short_name, type_, value, usage_rules in _TEMPLATE_ROWS.rows(
            _templates_where(connection.vendor, len(missing)), missing
        )
    }
    if stamp is None:
        return found
    if len(kept) + len(found) > _KEPT_TEMPLATES_MAX:
        kept = {template_id: kept[template_id] for template_id in ids if template_id in kept}
    kept.update(found)
    _KEPT_TEMPLATES = (stamp, kept)
    return kept


class Wallet(NamedTuple):
    """The coupons checkout considers, and the menu's stamp as their query read it (None when it was
    not read: no coupons, or no stamp), for ``orderable_products``."""

    coupons: list[HeldCoupon]
    menu: int | None


def _wallet(rest: str, params: list[Any]) -> Wallet:
    """The coupons of the wallet query: those whose row is as kept handed out again, the others made,
    in the driver's order either way."""
    fetched = _HELD.fetch(rest, params)
    if not fetched:
        return Wallet([], None)
    held: list[HeldCoupon | None] = []
    new = []
    for row in fetched:
        known = _KEPT_COUPONS.get(row[0])
        if known is not None and known[0] == row:
            held.append(known[1])
        else:
            held.append(None)
            new.append(row)
    stamp = fetched[0][_TEMPLATES]
    if new:
        templates = _templates({row[_TEMPLATE_ID] for row in new}, stamp)
        if len(_KEPT_COUPONS) + len(new) > _KEPT_COUPONS_MAX:
            _KEPT_COUPONS.clear()
        made = iter(_HELD.convert(new))
        coupons = []
        for row, coupon in zip(fetched, held, strict=True):
            if coupon is None:
                values = next(made)
                template = templates.get(row[_TEMPLATE_ID])
                if template is None:  # deleted since, and so the coupon (PROTECT)
                    continue
                coupon = HeldCoupon._make((*values[:_MENU], *template))
                if stamp is not None:  # else its template may change unseen
                    _KEPT_COUPONS[row[0]] = (row, coupon)
            coupons.append(coupon)
    else:
        coupons = held  # type: ignore[assignment]
    return Wallet(coupons, fetched[0][_MENU])


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


def checkout_wallet(*, user: Any, coupon_ids: Iterable[int] = ()) -> Wallet:
    """What checkout considers, with templates, in one query (and one more for templates this process
    has not read under the current stamp): every UNUSED coupon of the customer (also those past expiry
    the sweep has not reached: the engine says EXPIRED) and the chosen ones whatever their status.
    Never another customer's."""
    ids = sorted(set(coupon_ids))
    # Unordered: the preview sorts its answer itself, and a filesort of the wallet costs more.
    where = _wallet_where(connection.vendor, len(ids))
    return _wallet(where, [user.pk, CouponStatus.UNUSED.value, *ids])


def checkout_coupons_for(*, user: Any, coupon_ids: Iterable[int] = ()) -> list[HeldCoupon]:
    """``checkout_wallet``'s coupons."""
    return checkout_wallet(user=user, coupon_ids=coupon_ids).coupons


def chosen_coupons_for(*, user: Any, coupon_ids: Iterable[int]) -> list[HeldCoupon]:
    """The customer's coupons among ``coupon_ids`` (any status), with templates; others' ids are left out."""
    ids = sorted(set(coupon_ids))
    if not ids:
        return []
    return _wallet(_chosen_where(connection.vendor, len(ids)), [user.pk, *ids]).coupons


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
    """Template id -> the discount its coupons USED in [start, end) gave to their orders. A coupon given
    back by a cancelled order and used again later counts once: for the order it is linked to."""
    rows = (
        OrderCoupon.objects.filter(
            coupon__status=CouponStatus.USED,
            coupon__used_at__gte=start,
            coupon__used_at__lt=end,
            order_id=F("coupon__order_id"),
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
