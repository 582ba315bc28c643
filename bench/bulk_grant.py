"""Bulk grant benchmark: 100,000 customers, the grant's coupons/s beside a raw multi-row
INSERT of the same coupon rows, in the same database, in the same run, the two taking turns.

Run from the repository root: ``.venv/bin/python bench/bulk_grant.py [--users 100000] [--slices 10]``
(or ``BENCH_SCALE=0.05`` for a quick run). It uses its own database (``BENCH_BULK_DATABASE_URL``,
default ``mysql://root@127.0.0.1:3306/coupons_bench_bulk``, created and migrated here; the customers
are made once and kept) and Redis database (``BENCH_BULK_REDIS_URL`` or ``BENCH_REDIS_URL``, default
``redis://127.0.0.1:6379/10``). Not part of the test suite.

The grant runs as the Celery task would (``bulk_grant_run`` in this process), a slice of chunks at a
time (``max_chunks``; it resumes where it stopped): per chunk of ``BULK_GRANT_CHUNK_SIZE`` users of the
segment the grant lock, the template lock, quotas, coupons, the recipients' outcomes, progress and
counters. Before each slice of the grant, the reference inserts the same users' coupon rows (same
columns, same indexes, same chunk size per transaction, codes from the same ``code_maker``) with
hand-written multi-row INSERT statements; after it, a second reference inserts every row the grant
writes (recipient, quota, coupon). The medians of the slices' rates are compared. The announcement (one
message per customer, the task each chunk enqueues after it commits) then runs here and is timed on its
own. Exits 1 when the ratio is under 0.6 or a count is off.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import Report, redis_url, scaled
from bench._server import bench_env, create_database, migrate, purged, truncate

DATABASE_URL = os.environ.get("BENCH_BULK_DATABASE_URL", "mysql://root@127.0.0.1:3306/coupons_bench_bulk")
REDIS_URL = redis_url("BENCH_BULK_REDIS_URL", "redis://127.0.0.1:6379/10")
RATIO_TARGET = 0.6


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=scaled(100_000, least=5_000))
    parser.add_argument("--slices", type=int, default=10, help="slices of users, each side in turn")
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


def raw_insert(template, user_ids: list[int], chunk: int, codes: set[str]) -> float:
    """The reference: the same coupon rows with multi-row INSERTs, one transaction per chunk, codes from
    the same ``code_maker`` the grant uses (one per chunk, as the grant makes them), kept unique against
    ``codes``, those its template already has (its own product line: unique against itself is enough)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from coupons.ledger.issuing import code_maker, validity_for

    columns = (
        "code, user_id, template_id, status, amount, acquired_at, valid_from, expires_at, source, source_ref,"
        " order_id, used_at, granted_by_id, updated_at"
    )
    adapt = connection.ops.adapt_datetimefield_value
    started = time.perf_counter()
    for offset in range(0, len(user_ids), chunk):
        batch = user_ids[offset : offset + chunk]
        now = timezone.now()
        valid_from, expires_at = validity_for(template, now)
        stamp, start_, end_ = adapt(now), adapt(valid_from), adapt(expires_at)
        new_code = code_maker(template, now)
        rows, params = [], []
        for uid in batch:
            code = new_code()
            while code in codes:
                code = new_code()
            codes.add(code)
            rows.append("(%s, %s, %s, 'UNUSED', NULL, %s, %s, %s, 'BULK_GRANT', 'raw', NULL, NULL, NULL, %s)")
            params += [code, uid, template.pk, stamp, start_, end_, stamp]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO coupons_usercoupon ({columns}) VALUES {', '.join(rows)}", params)
    return time.perf_counter() - started


def raw_insert_all(template, grant, user_ids: list[int], chunk: int, codes: set[str]) -> float:
    """A second reference, for the record: every row the grant's transactions write (recipient, quota,
    coupon), as plain multi-row INSERTs, one transaction per chunk, the same code maker."""
    from django.db import connection, transaction
    from django.utils import timezone

    from coupons.ledger.issuing import code_maker, validity_for

    adapt = connection.ops.adapt_datetimefield_value
    started = time.perf_counter()
    for offset in range(0, len(user_ids), chunk):
        batch = user_ids[offset : offset + chunk]
        now = timezone.now()
        valid_from, expires_at = validity_for(template, now)
        stamp, start_, end_ = adapt(now), adapt(valid_from), adapt(expires_at)
        new_code = code_maker(template, now)
        recipients, quotas, coupons = [], [], []
        for uid in batch:
            code = new_code()
            while code in codes:
                code = new_code()
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
    report = Report("bulk_grant", ".venv/bin/python bench/bulk_grant.py")
    env = bench_env(DATABASE_URL, REDIS_URL)
    create_database(DATABASE_URL)
    migrate(env)
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count

    from coupons.models import ClaimQuota, CouponTemplate, TemplateStatus, UserCoupon
    from marketing.models import BulkGrant, BulkGrantRecipient, BulkGrantStatus, Notification, RecipientStatus
    from marketing.services import bulk_grant_run
    from marketing.services.bulk_grants import bulk_grant_announce

    redis.Redis.from_url(REDIS_URL).flushdb()
    ensure_customers(args.users)
    # The last run's rows go with TRUNCATE: deleted row by row, they would leave the purge a backlog that
    # takes a core while the first slices run.
    with connection.cursor() as cursor:
        truncate(cursor, [m._meta.db_table for m in (BulkGrantRecipient, Notification, UserCoupon, ClaimQuota)])
    BulkGrant.objects.all().delete()
    CouponTemplate.objects.all().delete()
    with connection.cursor() as cursor:
        purged(cursor)
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
    chunks_per_slice = max(1, -(-len(user_ids) // (chunk * args.slices)))
    per_slice = chunks_per_slice * chunk
    print(f"{len(user_ids)} customers; chunk {chunk}; slices of {per_slice} users, in turn:", flush=True)

    grant_template = template("granted")
    grant = BulkGrant.objects.create(
        name=f"bench {secrets.token_hex(3)}",
        target_type="SEGMENT",
        segment={"everybody": True},
        template=grant_template,
        status=BulkGrantStatus.APPROVED,
    )
    raw_template = template("raw", "08")
    all_template = template("raw all", "07")
    all_grant = BulkGrant.objects.create(
        name="raw all", target_type="SEGMENT", segment={"everybody": True}, template=all_template,
        status=BulkGrantStatus.DONE,
    )  # fmt: skip

    # Slice by slice: the raw INSERT of a slice's coupons, the grant's next chunks for the same users
    # (the grant resumes where it stopped, as its task does), and the raw INSERT of every row.
    raw_rates: list[float] = []
    grant_rates: list[float] = []
    all_rates: list[float] = []
    granted = 0
    raw_codes: set[str] = set()
    all_codes: set[str] = set()
    for offset in range(0, len(user_ids), per_slice):
        users = user_ids[offset : offset + per_slice]
        raw_rates.append(len(users) / raw_insert(raw_template, users, chunk, raw_codes))
        started = time.perf_counter()
        grant = bulk_grant_run(grant=grant, max_chunks=chunks_per_slice)
        elapsed = time.perf_counter() - started
        grant_rates.append((grant.granted - granted) / elapsed)
        granted = grant.granted
        all_rates.append(len(users) / raw_insert_all(all_template, all_grant, users, chunk, all_codes))
        print(
            f"  raw INSERT {raw_rates[-1]:7.0f} rows/s   grant {grant_rates[-1]:7.0f} coupons/s   raw INSERT of"
            f" all its rows {all_rates[-1]:7.0f} coupons/s",
            flush=True,
        )
    grant = bulk_grant_run(grant=grant)  # finds nobody left: DONE
    started = time.perf_counter()
    announced = bulk_grant_announce(grant_id=grant.pk)
    announce_elapsed = time.perf_counter() - started

    grant.refresh_from_db()
    coupons = UserCoupon.objects.filter(template=grant_template)
    statuses = dict(
        BulkGrantRecipient.objects.filter(grant=grant)
        .values_list("status")
        .annotate(n=Count("user"))
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
    grant_rate, raw_rate, all_rate = (statistics.median(r) for r in (grant_rates, raw_rates, all_rates))
    ratio = grant_rate / raw_rate
    pairs = statistics.median(g / r for g, r in zip(grant_rates, raw_rates, strict=True))
    report.add(
        f"bulk grant of {grant.granted:,} coupons, {len(grant_rates)} slices of {per_slice:,} (chunks of {chunk})",
        f"{grant_rate:,.0f} coupons/s (median; pairs' median ratio {pairs:.2f})",
        f"raw multi-row INSERT of the same coupon rows, in turn, same code maker, {raw_rate:,.0f} rows/s",
        ratio,
        f">= {RATIO_TARGET}",
        ratio >= RATIO_TARGET,
    )
    report.add(
        "bulk grant counts",
        f"targeted {grant.targeted:,}, granted {grant.granted:,}, coupons {coupons.count():,}, recipients"
        f" {statuses}, messages {announced:,}",
        f"{len(user_ids):,} customers, one each",
        None,
        "exact",
        exact,
    )
    report.add(
        "bulk grant beside a raw INSERT of every row it writes (recipient, quota, coupon)",
        f"{grant_rate:,.0f} coupons/s",
        f"{all_rate:,.0f} coupons/s",
        grant_rate / all_rate,
    )
    report.add(
        "its announcement (one message per customer)",
        f"{announced / announce_elapsed:,.0f} messages/s",
    )
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
