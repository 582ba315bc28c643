"""Expiry sweep benchmark: 2,000,000 coupons of which 1,000,000 are past their expiry.

The expired coupons fall in equal bands (one minute of expiry time apart). Band by band, the sweep
service (``coupons_expire_due`` up to the band's end) and the reference, one raw ``UPDATE`` of the
band's rows, take turns: raw, sweep, raw, sweep, ... so that load from elsewhere on the machine falls
on both alike. Printed: the medians of their rows/s and the ratio (target at least 0.5), the longest
batch of the sweep (each batch is one transaction, so its duration bounds how long it holds row
locks; target under 500 ms), the templates' ``expired_count`` against the rows swept, and the latency
of claims while the sweep runs (a last band) beside claims on an idle database.

Run: ``.venv/bin/python bench/sweep.py [--rows 2000000] [--slices 8]`` or ``BENCH_SCALE=0.05`` for a
quick run (MariaDB and Redis on loopback; its own database coupons_bench_jobs). Not part of the test
suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._data import (
    DB_URL_SWEEP,
    approved_templates,
    band_end,
    customers,
    insert_coupons,
    reset_tables,
    setup_django,
)
from bench._report import Report, scale, scaled

RATIO_TARGET = 0.5
BATCH_LIMIT_S = 0.5


def claim_latencies(template_id: int, first_user: int, users: int, stop: threading.Event, out: list[float]) -> None:
    from django.db import connection

    from coupons.services import coupon_claim

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
    parser.add_argument("--rows", type=int, default=scaled(2_000_000, least=20_000))
    parser.add_argument("--slices", type=int, default=8, help="bands in all, taken in turn by raw and sweep")
    args = parser.parse_args()
    report = Report("sweep", ".venv/bin/python bench/sweep.py")
    setup_django(DB_URL_SWEEP)

    from django.db import connection

    from coupons.ledger.expiry import coupons_expire_due
    from coupons.models import CouponTemplate, UserCoupon

    slices = args.slices + args.slices % 2  # as many of each side
    reset_tables()
    first_user = customers(1000)
    templates = approved_templates(20)
    claim_template = approved_templates(21)[-1]
    CouponTemplate.objects.filter(pk=claim_template).update(visible_in_claim_center=True, per_user_limit=0)
    # One more band than slices: the last one is swept with claims running beside it.
    seconds = insert_coupons(
        count=args.rows, first_user=first_user, users=1000, templates=templates, expired_every=2,
        expired_bands=slices + 1,
    )  # fmt: skip
    due = UserCoupon.objects.filter(status="UNUSED", expires_at__lte=time_now()).count()
    print(f"data: {args.rows:,} coupons, {due:,} past expiry in {slices + 1} bands (inserted in {seconds:.1f} s)")
    ends = [band_end(band) for band in range(slices + 1)]

    raw_rates: list[float] = []
    sweep_rates: list[float] = []
    swept = longest = 0.0
    batches = 0
    for band in range(slices):
        started = time.monotonic()
        if band % 2 == 0:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE coupons_usercoupon SET status = 'EXPIRED', updated_at = NOW(6) "
                    "WHERE status = 'UNUSED' AND expires_at <= %s",
                    [connection.ops.adapt_datetimefield_value(ends[band])],
                )
                changed = cursor.rowcount
            raw_rates.append(changed / (time.monotonic() - started))
            side = "raw UPDATE"
        else:
            result = coupons_expire_due(now=ends[band])
            changed = result.changed
            sweep_rates.append(changed / (time.monotonic() - started))
            swept += changed
            batches += result.batches
            longest = max(longest, result.longest_batch_seconds)
            side = f"sweep ({result.batches} batches, longest {result.longest_batch_seconds * 1000:.0f} ms)"
        print(f"  band {band}: {side:45s} {changed:9,} rows  {changed / (time.monotonic() - started):9,.0f} rows/s")
    counted = sum(CouponTemplate.objects.filter(pk__in=templates).values_list("expired_count", flat=True))

    # Claims on an idle database, then the last band swept with claims running beside it.
    idle = measure_claims(claim_template, first_user, 1000, max(1.0, 5 * scale()))
    stop, during = threading.Event(), []
    claimer = threading.Thread(target=claim_latencies, args=(claim_template, first_user, 1000, stop, during))
    claimer.start()
    started = time.monotonic()
    busy = coupons_expire_due(now=ends[-1])
    busy_seconds = time.monotonic() - started
    stop.set()
    claimer.join()

    raw_rate, sweep_rate = statistics.median(raw_rates), statistics.median(sweep_rates)
    ratio = sweep_rate / raw_rate
    pairs = statistics.median(s / r for s, r in zip(sweep_rates, raw_rates, strict=True))
    report.add(
        f"expiry sweep, {slices // 2} bands of {swept / (slices // 2):,.0f} rows",
        f"{sweep_rate:,.0f} rows/s (median; pairs' median ratio {pairs:.2f})",
        f"raw UPDATE of the other bands, in turn, {raw_rate:,.0f} rows/s",
        ratio,
        f">= {RATIO_TARGET}",
        ratio >= RATIO_TARGET,
    )
    report.add(
        "longest sweep batch (one transaction)",
        f"{longest * 1000:.0f} ms ({batches} batches)",
        f"limit {BATCH_LIMIT_S * 1000:.0f} ms",
        longest / BATCH_LIMIT_S,
        f"< {BATCH_LIMIT_S * 1000:.0f} ms",
        longest < BATCH_LIMIT_S,
    )
    report.add(
        "templates' expired_count",
        f"{counted:,}",
        f"rows the sweep changed {swept:,.0f}",
        None,
        "equal",
        counted == swept,
    )
    report.add(
        "claim latency while the sweep runs",
        f"p50 {p(during, 0.5):.1f} ms, p95 {p(during, 0.95):.1f} ms ({len(during)} claims; sweep"
        f" {busy.changed / busy_seconds:,.0f} rows/s, longest batch {busy.longest_batch_seconds * 1000:.0f} ms)",
        f"idle p50 {p(idle, 0.5):.1f} ms, p95 {p(idle, 0.95):.1f} ms",
        p(during, 0.95) / p(idle, 0.95),
    )
    return report.finish()


def time_now():
    from django.utils import timezone

    return timezone.now()


if __name__ == "__main__":
    sys.exit(main())
