"""Expiry sweep benchmark (SPEC 10): 2,000,000 coupons of which 1,000,000 are past their expiry.

Prints the sweep's rows/s beside one raw ``UPDATE`` of the same rows in the same run (target ratio at
least 0.5), the longest batch (each batch is one transaction, so its duration bounds how long it holds
row locks; target under 1 s), and the latency of claims while the sweep runs beside claims on an idle
database. Run: ``.venv/bin/python bench/sweep.py [--rows 2000000]`` (MariaDB and Redis on loopback; its
own database coupons_bench_jobs). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._data import DB_URL_SWEEP, approved_templates, customers, insert_coupons, reset_tables, setup_django
from bench._server import verdict


def claim_latencies(template_id: int, first_user: int, users: int, stop: threading.Event, out: list[float]) -> None:
    from django.db import connection

    from coupons.services.claim import coupon_claim

    i = 0
    try:
        while not stop.is_set():
            user = type("U", (), {"pk": first_user + (i % users), "is_authenticated": True})()
            started = time.perf_counter()
            coupon_claim(user=user, template_id=template_id)
            out.append(time.perf_counter() - started)
            i += 1
    finally:
        connection.close()


def measure_claims(template_id: int, first_user: int, users: int, seconds: float) -> list[float]:
    stop, out = threading.Event(), []
    thread = threading.Thread(target=claim_latencies, args=(template_id, first_user, users, stop, out))
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)] * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    setup_django(DB_URL_SWEEP)

    from django.db import connection

    from coupons.ledger.expiry import SWEEP_BATCH_SIZE, coupons_expire_due
    from coupons.models import CouponTemplate, UserCoupon

    reset_tables()
    first_user = customers(1000)
    templates = approved_templates(20)
    claim_template = approved_templates(21)[-1]
    CouponTemplate.objects.filter(pk=claim_template).update(visible_in_claim_center=True, per_user_limit=0)
    seconds = insert_coupons(count=args.rows, first_user=first_user, users=1000, templates=templates, expired_every=2)
    due = UserCoupon.objects.filter(status="UNUSED", expires_at__lte=time_now()).count()
    print(f"data: {args.rows:,} coupons, {due:,} past expiry (inserted in {seconds:.1f} s)")

    def reset() -> None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE coupons_usercoupon SET status = 'UNUSED' WHERE status = 'EXPIRED'")
        CouponTemplate.objects.filter(pk__in=templates).update(expired_count=0)

    # Raw UPDATE of the same rows: the reference, measured in this run.
    reset()
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE coupons_usercoupon SET status = 'EXPIRED', updated_at = NOW(6) "
            "WHERE status = 'UNUSED' AND expires_at <= NOW(6)"
        )
        raw_rows = cursor.rowcount
    raw_seconds = time.monotonic() - started
    raw_rate = raw_rows / raw_seconds

    # The sweep alone, like for like with the raw UPDATE.
    reset()
    started = time.monotonic()
    result = coupons_expire_due()
    sweep_seconds = time.monotonic() - started
    sweep_rate = result.changed / sweep_seconds
    counted = sum(CouponTemplate.objects.filter(pk__in=templates).values_list("expired_count", flat=True))

    # Claims on an idle database, then the sweep again with claims running beside it.
    reset()
    idle = measure_claims(claim_template, first_user, 1000, 5)
    stop, during = threading.Event(), []
    claimer = threading.Thread(target=claim_latencies, args=(claim_template, first_user, 1000, stop, during))
    claimer.start()
    started = time.monotonic()
    busy = coupons_expire_due()
    busy_seconds = time.monotonic() - started
    stop.set()
    claimer.join()

    ratio = sweep_rate / raw_rate
    print(f"raw UPDATE:  {raw_rows:,} rows in {raw_seconds:.2f} s = {raw_rate:,.0f} rows/s")
    print(
        f"sweep:       {result.changed:,} rows in {sweep_seconds:.2f} s = {sweep_rate:,.0f} rows/s "
        f"({result.batches} batches, adaptive from {SWEEP_BATCH_SIZE})  "
        f"ratio {ratio:.2f} (target >= 0.5)  {verdict(ratio >= 0.5)}"
    )
    print(
        f"longest batch: {result.longest_batch_seconds * 1000:.0f} ms  limit 1000 ms  "
        f"ratio {result.longest_batch_seconds:.2f}  {verdict(result.longest_batch_seconds < 1.0)}"
    )
    print(f"claim latency idle:        p50 {p(idle, 0.5):.1f} ms  p95 {p(idle, 0.95):.1f} ms  ({len(idle)} claims)")
    print(
        f"claim latency during sweep: p50 {p(during, 0.5):.1f} ms  p95 {p(during, 0.95):.1f} ms  "
        f"({len(during)} claims; p95 ratio {p(during, 0.95) / p(idle, 0.95):.2f})"
    )
    print(f"expired_count on the templates: {counted:,} (equals the rows swept: {verdict(counted == result.changed)})")
    ok = ratio >= 0.5 and result.longest_batch_seconds < 1.0 and counted == result.changed == raw_rows
    print(
        f"sweep with claims beside it: {busy.changed / busy_seconds:,.0f} rows/s, "
        f"longest batch {busy.longest_batch_seconds * 1000:.0f} ms"
    )
    return 0 if ok else 1


def time_now():
    from django.utils import timezone

    return timezone.now()


if __name__ == "__main__":
    sys.exit(main())
