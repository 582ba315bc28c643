"""Bulk test data for the sweep and stats benchmarks, written with MariaDB's sequence engine (one
INSERT ... SELECT per million rows) so that setting up millions of coupons takes seconds, not hours."""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import redis_url
from bench._server import bench_env, create_database, migrate, truncate

DB_URL_SWEEP = os.environ.get("BENCH_JOBS_DATABASE_URL", "mysql://root@127.0.0.1:3306/coupons_bench_jobs")
REDIS_URL = redis_url("BENCH_JOBS_REDIS_URL", "redis://127.0.0.1:6379/14")

# The claim benchmarks' template (with a name and a status of their own): 10 off 100, unlimited stock, one
# per customer, valid 7 days from the claim, for everyone.
CLAIM_TEMPLATE = {
    "short_name": "满100减10",
    "type": "CASH_VOUCHER",
    "value": {"amount": "10.00"},
    "usage_rules": [{"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}}],
    "total_quantity": -1,
    "per_user_limit": 1,
    "validity_type": "RELATIVE_DAYS",
    "valid_days_after_issue": 7,
    "target": {"type": "ALL"},
}


def setup_django(database_url: str) -> None:
    env = bench_env(database_url, REDIS_URL)
    create_database(database_url)
    migrate(env)
    import django

    django.setup()


def reset_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        truncate(cursor, [
            "orders_ordercoupon", "orders_orderline", "orders_order", "coupons_claimquota",
            "coupons_templatedailystats", "coupons_usercoupon", "marketing_notification",
        ])  # fmt: skip


def customers(n: int) -> int:
    """Make sure ``n`` customers exist; return the smallest id of a run of ``n`` consecutive ids."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    existing = list(
        user_model.objects.filter(username__startswith="bench-c").order_by("id").values_list("id", flat=True)
    )
    if len(existing) >= n and existing[n - 1] - existing[0] == n - 1:
        return existing[0]
    user_model.objects.filter(username__startswith="bench-c").delete()
    users = user_model.objects.bulk_create([user_model(username=f"bench-c{i:07d}") for i in range(n)], batch_size=5000)
    ids = sorted(u.pk for u in users)
    assert ids[-1] - ids[0] == n - 1, "customer ids are not consecutive"
    return ids[0]


def approved_templates(n: int, **fields) -> list[int]:
    from coupons.models import CouponTemplate

    CouponTemplate.objects.filter(name__startswith="bench-t").update(issued_quantity=0)
    ids = []
    for i in range(n):
        template, _ = CouponTemplate.objects.update_or_create(
            name=f"bench-t{i:03d}",
            defaults={
                "type": "CASH_VOUCHER", "value": {"amount": "5.00"}, "usage_rules": [],
                "total_quantity": -1, "per_user_limit": 0, "status": "APPROVED",
                "validity_type": "RELATIVE_DAYS", "valid_days_after_issue": 30, "issued_quantity": 0,
                "used_count": 0, "locked_count": 0, "expired_count": 0, "revoked_count": 0, "discount_total": 0,
                **fields,
            },
        )  # fmt: skip
        ids.append(template.pk)
    return ids


def insert_coupons(
    *,
    count: int,
    first_user: int,
    users: int,
    templates: list[int],
    expired_every: int = 0,
    days_spread: int = 1,
    expired_bands: int = 1,
) -> float:
    """Insert ``count`` UNUSED coupons; every ``expired_every``-th one already past its expiry. Issue times
    are spread over the last ``days_spread`` days. The expired ones fall in ``expired_bands`` bands, one
    minute apart from a day ago (``band_end``), so that a sweep can be run band by band. Returns the
    seconds it took."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now().replace(tzinfo=None, second=0, microsecond=0)
    first_template, n_templates = templates[0], len(templates)
    assert templates == list(range(first_template, first_template + n_templates)), "template ids not consecutive"
    past = now - timedelta(days=1)
    future = now + timedelta(days=30)
    started = time.monotonic()
    done = 0
    with connection.cursor() as cursor:
        while done < count:
            size = min(1_000_000, count - done)
            expiry = (
                f"IF(MOD(seq, {expired_every}) = 0,"
                f" %s + INTERVAL MOD(seq DIV {expired_every}, {expired_bands}) MINUTE, %s)"
                if expired_every
                else "%s"
            )
            params = [past, future] if expired_every else [future]
            cursor.execute(
                f"""
                INSERT INTO coupons_usercoupon
                    (code, user_id, template_id, status, amount, acquired_at, valid_from, expires_at, source,
                     source_ref, order_id, used_at, granted_by_id, updated_at)
                SELECT LPAD(seq + {done}, 18, '0'), {first_user} + MOD(seq, {users}),
                       {first_template} + MOD(seq, {n_templates}), 'UNUSED', NULL,
                       %s - INTERVAL MOD(seq, {days_spread}) DAY - INTERVAL 1 HOUR,
                       %s - INTERVAL 40 DAY, {expiry}, 'CLAIM', '', NULL, NULL, NULL, %s
                FROM seq_1_to_{size}
                """,
                [now, now, *params, now],
            )
            done += size
        cursor.execute(
            "UPDATE coupons_coupontemplate t SET issued_quantity = "
            "(SELECT COUNT(*) FROM coupons_usercoupon c WHERE c.template_id = t.id) WHERE t.id IN ("
            + ",".join(str(t) for t in templates)
            + ")"
        )
    return time.monotonic() - started


def band_end(band: int):
    """The end (inclusive) of expiry band ``band`` (from 0) of the coupons ``insert_coupons`` made."""
    from django.db.models import Min
    from django.utils import timezone

    from coupons.models import UserCoupon

    first = UserCoupon.objects.filter(expires_at__lt=timezone.now()).aggregate(first=Min("expires_at"))["first"]
    return first + timedelta(minutes=band)
