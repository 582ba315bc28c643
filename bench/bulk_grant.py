"""Bulk grant benchmark (SPEC 10): 100,000 customers, the grant's coupons/s beside a raw multi-row
INSERT of the same coupon rows, in the same database, in the same run.

Run from the repository root: ``.venv/bin/python bench/bulk_grant.py``. It uses its own database
(``BENCH_BULK_DATABASE_URL``, default ``mysql://root@127.0.0.1:3306/coupons_bench_bulk``, created and
migrated here; the 100,000 customers are made once and kept) and Redis database
(``BENCH_BULK_REDIS_URL``, default ``redis://127.0.0.1:6379/10``). Not part of the test suite.

The grant runs as the Celery task would (``bulk_grant_run`` in this process): per chunk of
``BULK_GRANT_CHUNK_SIZE`` users of the segment the grant lock, the template lock, quotas, coupons, the
recipients' outcomes, progress and counters. Its announcement (one message per customer, the task each
chunk enqueues after it commits) then runs here too and is timed on its own. The yardstick inserts the
same number of coupon rows (same columns, same indexes, same chunk size per transaction) with
hand-written multi-row INSERT statements; it runs before and after the grant and the mean is used.
Exits 1 when the ratio is under 0.5 or a count is off.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import bench_env, create_database, migrate, verdict

DATABASE_URL = os.environ.get("BENCH_BULK_DATABASE_URL", "mysql://root@127.0.0.1:3306/coupons_bench_bulk")
REDIS_URL = os.environ.get("BENCH_BULK_REDIS_URL", "redis://127.0.0.1:6379/10")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    return parser.parse_args()


def ensure_customers(count: int) -> None:
    """``count`` customers with member profiles (kept between runs)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from marketing.models import MemberProfile

    user_model = get_user_model()
    have = user_model.objects.filter(username__startswith="bulk-").count()
    if have == count and MemberProfile.objects.filter(user__username__startswith="bulk-").count() == count:
        return
    print(f"creating {count} customers (once)…", flush=True)
    MemberProfile.objects.filter(user__username__startswith="bulk-").delete()
    user_model.objects.filter(username__startswith="bulk-").delete()
    for start in range(0, count, 10_000):
        user_model.objects.bulk_create(
            [user_model(username=f"bulk-{i:07d}") for i in range(start, min(count, start + 10_000))]
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO marketing_memberprofile (user_id, level, birthday, user_type, invite_code, channel,"
            " registered_at, last_order_at, invited_by_id)"
            " SELECT id, 'NORMAL', NULL, 'C', CONCAT('B', LPAD(id, 10, '0')), 'APP', NOW(), NULL, NULL"
            " FROM auth_user WHERE username LIKE 'bulk-%%'"
        )


def raw_insert(template, user_ids: list[int], chunk: int) -> float:
    """The yardstick: the same coupon rows with multi-row INSERTs, one transaction per chunk."""
    from django.db import connection, transaction
    from django.utils import timezone

    from coupons.ledger.issuing import coupon_code, validity_for

    now = timezone.now()
    valid_from, expires_at = validity_for(template, now)
    adapt = connection.ops.adapt_datetimefield_value
    stamp, start_, end_ = adapt(now), adapt(valid_from), adapt(expires_at)
    columns = (
        "code, user_id, template_id, status, amount, acquired_at, valid_from, expires_at, source, source_ref,"
        " order_id, used_at, granted_by_id, updated_at"
    )
    codes: set[str] = set()
    started = time.perf_counter()
    for offset in range(0, len(user_ids), chunk):
        batch = user_ids[offset : offset + chunk]
        rows, params = [], []
        for uid in batch:
            code = coupon_code(template, now)
            while code in codes:  # its own product line: unique against itself is enough
                code = coupon_code(template, now)
            codes.add(code)
            rows.append("(%s, %s, %s, 'UNUSED', NULL, %s, %s, %s, 'BULK_GRANT', 'raw', NULL, NULL, NULL, %s)")
            params += [code, uid, template.pk, stamp, start_, end_, stamp]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO coupons_usercoupon ({columns}) VALUES {', '.join(rows)}", params)
    return time.perf_counter() - started


def raw_insert_all(template, grant, user_ids: list[int], chunk: int) -> float:
    """A second yardstick, for the record: every row the grant's transactions write (recipient, quota,
    coupon), as plain multi-row INSERTs, one transaction per chunk."""
    from django.db import connection, transaction
    from django.utils import timezone

    from coupons.ledger.issuing import coupon_code, validity_for

    now = timezone.now()
    valid_from, expires_at = validity_for(template, now)
    adapt = connection.ops.adapt_datetimefield_value
    stamp, start_, end_ = adapt(now), adapt(valid_from), adapt(expires_at)
    codes: set[str] = set()
    started = time.perf_counter()
    for offset in range(0, len(user_ids), chunk):
        batch = user_ids[offset : offset + chunk]
        recipients, quotas, coupons = [], [], []
        for uid in batch:
            code = coupon_code(template, now)
            while code in codes:
                code = coupon_code(template, now)
            codes.add(code)
            recipients += [grant.pk, uid, "GRANTED", stamp]
            quotas += [template.pk, uid, 1]
            coupons += [code, uid, template.pk, stamp, start_, end_, stamp]
        n = len(batch)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO marketing_bulkgrantrecipient (grant_id, user_id, status, processed_at) VALUES "
                + ", ".join(["(%s, %s, %s, %s)"] * n),
                recipients,
            )
            cursor.execute(
                "INSERT INTO coupons_claimquota (template_id, user_id, claimed) VALUES "
                + ", ".join(["(%s, %s, %s)"] * n),
                quotas,
            )
            cursor.execute(
                "INSERT INTO coupons_usercoupon (code, user_id, template_id, status, amount, acquired_at, valid_from,"
                " expires_at, source, source_ref, order_id, used_at, granted_by_id, updated_at) VALUES "
                + ", ".join(
                    ["(%s, %s, %s, 'UNUSED', NULL, %s, %s, %s, 'BULK_GRANT', 'raw', NULL, NULL, NULL, %s)"] * n
                ),
                coupons,
            )
    return time.perf_counter() - started


def main() -> int:
    args = parse()
    env = bench_env(DATABASE_URL, REDIS_URL)
    create_database(DATABASE_URL)
    migrate(env)
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from coupons.models import ClaimQuota, CouponTemplate, TemplateStatus, UserCoupon
    from marketing.models import BulkGrant, BulkGrantRecipient, BulkGrantStatus, Notification, RecipientStatus
    from marketing.services.bulk_grants import bulk_grant_announce, bulk_grant_run

    redis.Redis.from_url(REDIS_URL).flushdb()
    ensure_customers(args.users)
    BulkGrantRecipient.objects.all().delete()
    BulkGrant.objects.all().delete()
    Notification.objects.all().delete()
    UserCoupon.objects.all().delete()
    ClaimQuota.objects.all().delete()
    CouponTemplate.objects.all().delete()
    chunk = settings.BULK_GRANT_CHUNK_SIZE

    def template(name: str, product_line: str = "01") -> CouponTemplate:
        return CouponTemplate.objects.create(
            name=name,
            product_line=product_line,
            short_name="满100减10",
            type="CASH_VOUCHER",
            value={"amount": "10.00"},
            usage_rules=[{"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}}],
            total_quantity=-1,
            per_user_limit=1,
            valid_days_after_issue=30,
            status=TemplateStatus.APPROVED,
        )

    user_ids = list(
        get_user_model().objects.filter(username__startswith="bulk-").order_by("pk").values_list("pk", flat=True)
    )
    print(f"{len(user_ids)} customers; chunk {chunk}", flush=True)

    raw_before = raw_insert(template("raw before", "08"), user_ids, chunk)
    print(f"  raw multi-row INSERT   {len(user_ids) / raw_before:9.0f} rows/s  ({raw_before:.1f} s)", flush=True)

    grant_template = template("granted")
    grant = BulkGrant.objects.create(
        name=f"bench {secrets.token_hex(3)}",
        target_type="SEGMENT",
        segment={"everybody": True},
        template=grant_template,
        status=BulkGrantStatus.APPROVED,
    )
    started = time.perf_counter()
    grant = bulk_grant_run(grant=grant)
    elapsed = time.perf_counter() - started
    print(f"  bulk grant             {grant.granted / elapsed:9.0f} rows/s  ({elapsed:.1f} s)", flush=True)
    started = time.perf_counter()
    announced = bulk_grant_announce(grant_id=grant.pk)
    announce_elapsed = time.perf_counter() - started
    print(
        f"  its announcement       {announced / announce_elapsed:9.0f} messages/s  ({announce_elapsed:.1f} s,"
        " the task each chunk enqueues after it commits)",
        flush=True,
    )

    raw_after = raw_insert(template("raw after", "09"), user_ids, chunk)
    print(f"  raw multi-row INSERT   {len(user_ids) / raw_after:9.0f} rows/s  ({raw_after:.1f} s)", flush=True)

    all_template = template("raw all", "07")
    all_grant = BulkGrant.objects.create(
        name="raw all", target_type="SEGMENT", segment={"everybody": True}, template=all_template,
        status=BulkGrantStatus.DONE,
    )  # fmt: skip
    raw_all = raw_insert_all(all_template, all_grant, user_ids, chunk)
    print(f"  raw INSERT of all its rows {len(user_ids) / raw_all:5.0f} coupons/s  ({raw_all:.1f} s)", flush=True)

    grant.refresh_from_db()
    coupons = UserCoupon.objects.filter(template=grant_template)
    statuses = dict(
        BulkGrantRecipient.objects.filter(grant=grant)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    exact = (
        grant.status == BulkGrantStatus.DONE
        and grant.targeted == grant.granted == len(user_ids) == coupons.count()
        and statuses == {RecipientStatus.GRANTED: len(user_ids)}
        and CouponTemplate.objects.get(pk=grant_template.pk).issued_quantity == len(user_ids)
        and announced == Notification.objects.filter(data__bulk_grant_id=grant.pk).count() == len(user_ids)
        and not coupons.values("user_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    )
    grant_rate = grant.granted / elapsed
    raw_rate = len(user_ids) / ((raw_before + raw_after) / 2)
    ratio = grant_rate / raw_rate
    print()
    print(
        f"bulk grant of {grant.granted} coupons  {grant_rate:8.0f} rows/s  beside raw INSERT {raw_rate:8.0f} rows/s"
        f"  ratio {ratio:5.2f}  (target >= 0.50)  {verdict(ratio >= 0.5)}"
    )
    print(
        f"counts exact (targeted {grant.targeted}, granted {grant.granted}, coupons {coupons.count()},"
        f" one per customer, recipients {statuses}, messages {announced})  {verdict(exact)}"
    )
    print(
        f"(for the record: beside a raw INSERT of every row the grant's transactions write - recipient, quota,"
        f" coupon - {len(user_ids) / raw_all:.0f} coupons/s, the ratio is"
        f" {grant_rate * raw_all / len(user_ids):.2f};"
        f" load average {os.getloadavg()[0]:.1f})"
    )
    return 0 if exact and ratio >= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
