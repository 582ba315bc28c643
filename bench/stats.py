"""Template stats benchmark: reading a template's stats at 1,000,000 instances, with the
counters kept by the application itself.

The million instances are written in bulk (MariaDB's sequence engine), a quarter of them already past
their expiry. Then the application moves the counters through its own services, as in production:
customers claim coupons (``coupon_claim``), place orders with them (``order_place``), pay two orders in
three (``order_pay``) and cancel the rest (``order_cancel``), and the expiry sweep
(``coupons_expire_due``) expires the coupons past their date; the daily roll-up (``stats_rollup_day``)
runs for the last 31 days. The totals ``template_stats`` reads from the counters must equal a full
``COUNT(*) ... GROUP BY status`` of the instances (and the discounts of the paid orders).

Printed: the p50/p95 of ``template_stats`` and of the staff endpoint (Django's test client) beside the
50 ms limit as a ratio, each beside a reference read in turn with it (the template's row alone; the
staff template detail endpoint), and, for contrast, the one ``COUNT(*) ... GROUP BY status`` a stats
page must not run. Run: ``.venv/bin/python bench/stats.py [--rows 1000000]`` or ``BENCH_SCALE=0.05`` for
a quick run. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._data import DB_URL_SWEEP, approved_templates, customers, insert_coupons, reset_tables, setup_django
from bench._report import Report, scaled

LIMIT_MS = 50.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def interleaved(first, second, runs: int) -> tuple[list[float], list[float]]:
    """Milliseconds of each call of two functions called in turn."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        for function, out in ((first, a), (second, b)):
            started = time.perf_counter()
            function()
            out.append((time.perf_counter() - started) * 1000)
    return a, b


def drive(template_id: int, first_user: int, claims: int, orders: int) -> dict[str, int]:
    """Claims, orders placed, paid and cancelled, and the expiry sweep, all through the services."""
    from django.contrib.auth import get_user_model

    from coupons.ledger import coupons_expire_due
    from coupons.services import coupon_claim
    from orders.models import Category, Product
    from orders.services import order_cancel, order_pay, order_place

    category, _ = Category.objects.get_or_create(code="cat-bench", defaults={"name": "bench"})
    Product.objects.get_or_create(sku="d-bench", defaults={"name": "烤鸭", "category": category, "price": "88.00"})
    users = list(get_user_model().objects.filter(pk__gte=first_user).order_by("pk")[:claims])
    claimed = [coupon_claim(user=users[i % len(users)], template_id=template_id) for i in range(claims)]
    paid = cancelled = 0
    for index, coupon in enumerate(claimed[:orders]):
        user = users[index % len(users)]
        order = order_place(user=user, lines=[{"sku": "d-bench", "quantity": 1}], channel="APP", coupon_ids=[coupon.pk])
        if index % 3 == 2:
            order_cancel(order=order, actor=user)
            cancelled += 1
        else:
            order_pay(order=order, actor=user)
            paid += 1
    swept = coupons_expire_due().changed
    return {"claimed": len(claimed), "placed": orders, "paid": paid, "cancelled": cancelled, "expired": swept}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=scaled(1_000_000, least=20_000))
    parser.add_argument("--claims", type=int, default=scaled(2000, least=100))
    parser.add_argument("--orders", type=int, default=scaled(600, least=30))
    parser.add_argument("--reads", type=int, default=scaled(300, least=50))
    args = parser.parse_args()
    report = Report("stats", ".venv/bin/python bench/stats.py")
    setup_django(DB_URL_SWEEP)

    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.models import Sum
    from django.test import Client

    from core.clock import business_today
    from core.roles import OPERATIONS
    from coupons.models import CouponTemplate
    from coupons.services.stats import stats_rollup_day, template_stats
    from orders.models import OrderCoupon

    reset_tables()
    first_user = customers(1000)
    template_id = approved_templates(1, visible_in_claim_center=True)[0]
    seconds = insert_coupons(
        count=args.rows, first_user=first_user, users=1000, templates=[template_id], expired_every=4, days_spread=30
    )
    started = time.monotonic()
    done = drive(template_id, first_user, args.claims, args.orders)
    drive_seconds = time.monotonic() - started
    started = time.monotonic()
    today = business_today()
    for offset in range(31):
        stats_rollup_day(day=today - timedelta(days=offset))
    rollup_seconds = time.monotonic() - started
    print(
        f"data: {args.rows:,} coupons of one template over 30 days (inserted in {seconds:.1f} s); through the"
        f" services in {drive_seconds:.1f} s: {done}; 31 daily roll-ups in {rollup_seconds:.1f} s"
    )

    # What the instances say, counted in full, against what the counters say.
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, COUNT(*) FROM coupons_usercoupon WHERE template_id = %s GROUP BY status", [template_id]
        )
        counted = {status.lower(): n for status, n in cursor.fetchall()}
    count_ms = (time.perf_counter() - started) * 1000
    discounts = OrderCoupon.objects.filter(coupon__template_id=template_id, coupon__status="USED").aggregate(
        total=Sum("discount")
    )["total"] or Decimal("0.00")
    template = CouponTemplate.objects.get(pk=template_id)
    totals = template_stats(template=template)["totals"]
    truth = {
        "issued": sum(counted.values()),
        "unused": counted.get("unused", 0),
        "locked": counted.get("locked", 0),
        "used": counted.get("used", 0),
        "expired": counted.get("expired", 0),
        "revoked": counted.get("revoked", 0),
        "discount": str(discounts),
    }
    kept = {key: totals[key] for key in truth}
    moved = done["claimed"] and done["paid"] and done["expired"]
    report.add(
        "template counters after claims, orders, payments, cancellations and the sweep",
        ", ".join(f"{k} {v}" for k, v in kept.items()),
        "COUNT(*) GROUP BY status and the paid discounts: "
        + ("equal" if kept == truth else ", ".join(f"{k} {v}" for k, v in truth.items())),
        None,
        "equal",
        kept == truth and bool(moved),
    )

    staff, _ = get_user_model().objects.get_or_create(username="bench-ops", defaults={"is_staff": True})
    staff.groups.add(Group.objects.get(name=OPERATIONS))
    client = Client()
    client.force_login(staff)

    def api(path: str):
        def get() -> None:
            response = client.get(path, HTTP_HOST="127.0.0.1")
            assert response.status_code == 200, response.status_code

        return get

    service, row_read = interleaved(
        lambda: template_stats(template=template),
        lambda: CouponTemplate.objects.get(pk=template_id),
        args.reads,
    )
    http, detail = interleaved(
        api(f"/api/v1/staff/templates/{template_id}/stats"), api(f"/api/v1/staff/templates/{template_id}"), args.reads
    )
    for name, values, reference_name, reference in (
        ("template_stats() p95", service, "the template's row alone", row_read),
        ("GET /staff/templates/{id}/stats p95 (test client)", http, "GET /staff/templates/{id}", detail),
    ):
        p95 = percentile(values, 0.95)
        report.add(
            f"{name}, {args.rows // 1000:,}k instances",
            f"{p95:.2f} ms (p50 {percentile(values, 0.5):.2f} ms)",
            f"limit {LIMIT_MS:.0f} ms; read in turn, {reference_name} p95 {percentile(reference, 0.95):.2f} ms",
            p95 / LIMIT_MS,
            f"< {LIMIT_MS:.0f} ms",
            p95 < LIMIT_MS,
        )
    report.add("for contrast, one COUNT(*) GROUP BY status over the instances", f"{count_ms:,.0f} ms")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
