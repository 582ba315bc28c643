"""Template stats benchmark (SPEC 10): reading a template's stats at 1,000,000 instances.

Prints the median and p95 of ``template_stats`` (exact counters plus the daily roll-up) and of the staff
endpoint through Django's test client, beside the 50 ms limit as a ratio, and, for contrast, one direct
``COUNT(*) ... GROUP BY status`` over the instance table (what a stats page must not do).
Run: ``.venv/bin/python bench/stats.py [--rows 1000000]``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._data import DB_URL_SWEEP, approved_templates, customers, insert_coupons, reset_tables, setup_django
from bench._server import verdict

LIMIT_MS = 50.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reads", type=int, default=300)
    args = parser.parse_args()
    setup_django(DB_URL_SWEEP)

    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from core.roles import OPERATIONS
    from coupons.models import CouponTemplate
    from coupons.services.stats import business_today, stats_rollup_day, template_stats

    reset_tables()
    first_user = customers(1000)
    template_id = approved_templates(1)[0]
    seconds = insert_coupons(
        count=args.rows, first_user=first_user, users=1000, templates=[template_id], expired_every=4, days_spread=30
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE coupons_coupontemplate SET expired_count = (SELECT COUNT(*) FROM coupons_usercoupon "
            "WHERE template_id = %s AND expires_at <= NOW(6)) WHERE id = %s",
            [template_id, template_id],
        )
    started = time.monotonic()
    today = business_today()
    for offset in range(31):
        stats_rollup_day(day=today - timedelta(days=offset))
    rollup_seconds = time.monotonic() - started
    print(
        f"data: {args.rows:,} coupons of one template over 30 days (inserted in {seconds:.1f} s; "
        f"31 daily roll-ups in {rollup_seconds:.1f} s)"
    )

    template = CouponTemplate.objects.get(pk=template_id)
    service = []
    for _ in range(args.reads):
        started = time.perf_counter()
        stats = template_stats(template=template)
        service.append((time.perf_counter() - started) * 1000)
    assert stats["totals"]["issued"] == args.rows and len(stats["daily"]) == 30

    staff, _ = get_user_model().objects.get_or_create(username="bench-ops", defaults={"is_staff": True})
    from django.contrib.auth.models import Group

    staff.groups.add(Group.objects.get(name=OPERATIONS))
    client = Client()
    client.force_login(staff)
    http = []
    for _ in range(args.reads):
        started = time.perf_counter()
        response = client.get(f"/api/v1/staff/templates/{template_id}/stats", HTTP_HOST="127.0.0.1")
        http.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, COUNT(*) FROM coupons_usercoupon WHERE template_id = %s GROUP BY status", [template_id]
        )
        cursor.fetchall()
    count_ms = (time.perf_counter() - started) * 1000

    ok = True
    for name, values in (("template_stats()", service), ("GET .../stats (test client)", http)):
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        ok = ok and p95 < LIMIT_MS
        print(
            f"{name:30s} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  limit {LIMIT_MS:.0f} ms  "
            f"ratio {p95 / LIMIT_MS:.3f}  {verdict(p95 < LIMIT_MS)}"
        )
    print(f"for contrast, one COUNT(*) GROUP BY status over the instances: {count_ms:,.0f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
