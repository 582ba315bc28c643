"""Claim benchmark over HTTP: gunicorn, MariaDB, Redis, a keep-alive load generator.

Run from the repository root: ``.venv/bin/python bench/claim.py``. It uses its own database
(``BENCH_CLAIM_DATABASE_URL``, default ``mysql://root@127.0.0.1:3306/coupons_bench``, created and
migrated here) and its own Redis database (``BENCH_CLAIM_REDIS_URL`` or ``BENCH_REDIS_URL``, default
``redis://127.0.0.1:6379/9``, flushed here). ``BENCH_SCALE=0.1`` (or ``--runs 1 --duration 0.5``)
makes a quick run. Not part of the test suite.

Printed, each beside its reference measured in the same run, as a ratio (medians of ``--runs`` runs;
both sides of a ratio are measured in alternating slices, A B A B ...):
- claim rate (fresh stock, one claim per customer) beside a no-op DRF endpoint with the same token
  authentication in the same server (target >= 0.6);
- the CPU each request cost the web processes, the database server and the load client (``/proc``), the
  no-op beside the claim in the pair at the claim's peak: where a claim's time goes (for the record);
- claims with an ``Idempotency-Key`` on every request beside claims without (target >= 0.8);
- sold-out claims beside the no-op (target >= 0.8), with the rows the database read and changed
  meanwhile (MariaDB per-table statistics of the bench schema: zero rows changed);
- claims at 200 concurrent clients beside the peak claim rate (target >= 0.7), no 5xx;
- p50/p99 latency of claims sent open loop at half the peak claim rate, beside the no-op at the same
  rate (for the record);
- hot claim: stock 1,000, 200 customers, 5,000 attempts: exactly 1,000 issued, per-user limits held,
  no 5xx.
Exits 1 when any check fails.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._data import CLAIM_TEMPLATE
from bench._report import Report, redis_url, scale, scaled
from bench._server import (
    THREADS,
    WORKERS,
    CpuMeter,
    Request,
    Result,
    bench_env,
    create_database,
    free_port,
    gunicorn,
    load,
    migrate,
    paired,
    purged,
    rows_by_table,
    rows_delta,
    table_statistics,
    truncate,
)

DATABASE_URL = os.environ.get("BENCH_CLAIM_DATABASE_URL", "mysql://root@127.0.0.1:3306/coupons_bench")
REDIS_URL = redis_url("BENCH_CLAIM_REDIS_URL", "redis://127.0.0.1:6379/9")
SCHEMA = DATABASE_URL.rsplit("/", 1)[-1]
CUSTOMERS = 12_000
HOT_CUSTOMERS = 200
HOT_LIMIT = 6


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # The README's production set-up: two gthread workers per core, four threads each.
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--duration", type=float, default=max(0.5, 4 * scale()), help="seconds per side and figure")
    parser.add_argument("--runs", type=int, default=3 if scale() >= 0.5 else 1, help="runs (the median is quoted)")
    parser.add_argument("--levels", default="4,8,16", help="concurrency levels searched for the peak")
    parser.add_argument("--hot-stock", type=int, default=scaled(1000, least=100))
    return parser.parse_args()


def setup() -> None:
    env = bench_env(DATABASE_URL, REDIS_URL)
    create_database(DATABASE_URL)
    migrate(env)
    import django

    django.setup()


def reset_data() -> tuple[list[str], list[str]]:
    """Fresh customers and tokens; returns (tokens of the crowd, tokens of the hot-claim customers)."""
    import redis
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from coupons.models import ClaimQuota, CouponTemplate, UserCoupon
    from marketing.models import Notification

    redis.Redis.from_url(REDIS_URL).flushdb()
    # The last run's rows go with TRUNCATE: deleted row by row, they would leave the purge a backlog that
    # takes a core while the first figures are measured.
    with connection.cursor() as cursor:
        truncate(cursor, [m._meta.db_table for m in (UserCoupon, ClaimQuota, Notification)])
    CouponTemplate.objects.all().delete()
    user_model = get_user_model()
    if user_model.objects.filter(username__startswith="bench-claim-").count() != CUSTOMERS + HOT_CUSTOMERS:
        user_model.objects.filter(username__startswith="bench-claim-").delete()
        user_model.objects.bulk_create(
            [user_model(username=f"bench-claim-{i:06d}") for i in range(CUSTOMERS + HOT_CUSTOMERS)], batch_size=2000
        )
        users = user_model.objects.filter(username__startswith="bench-claim-").order_by("username")
        Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users], batch_size=2000)
    tokens = list(
        Token.objects.filter(user__username__startswith="bench-claim-")
        .order_by("user__username")
        .values_list("key", flat=True)
    )
    with connection.cursor() as cursor:
        purged(cursor)
    return tokens[:CUSTOMERS], tokens[CUSTOMERS:]


def new_template(**fields):
    from coupons.ledger import gate
    from coupons.models import CouponTemplate, TemplateStatus

    defaults = {"name": "bench claim", **CLAIM_TEMPLATE, "status": TemplateStatus.APPROVED}
    template = CouponTemplate.objects.create(**(defaults | fields))
    gate.load(template)  # as the approval signal does
    return template


def source(method: str, path: str, tokens: list[str], *, idempotent: bool = False):
    """Requests handing out the tokens in turn (each customer claims once per template); with
    ``idempotent`` each carries a fresh ``Idempotency-Key``."""
    lock = threading.Lock()
    feed = iter(tokens)

    def next_request() -> Request | None:
        with lock:
            token = next(feed, None)
        if token is None:
            return None
        if idempotent:
            return (method, path, token, b"", {"Idempotency-Key": uuid.uuid4().hex})
        return (method, path, token)

    return next_request


def cycling(method: str, path: str, tokens: list[str]):
    feed = itertools.cycle(tokens)
    return lambda: (method, path, next(feed))


def main() -> int:
    args = parse()
    report = Report("claim", ".venv/bin/python bench/claim.py")
    setup()
    import statistics
    import time

    from django.db import connection
    from django.db.models import Count, Max

    from coupons.models import CouponTemplate, UserCoupon

    crowd, hot = reset_data()
    levels = [int(x) for x in args.levels.split(",")]
    port = free_port()

    def noop():
        return cycling("POST", "/api/v1/bench/noop/1", crowd)

    def fresh():
        return source("POST", f"/api/v1/templates/{new_template().pk}/claim", crowd)

    def fresh_idempotent():
        return source("POST", f"/api/v1/templates/{new_template().pk}/claim", crowd, idempotent=True)

    print(f"gunicorn gthread {args.workers} workers x {args.threads} threads; {args.runs} runs of {args.duration}s")
    with gunicorn(os.environ.copy(), workers=args.workers, threads=args.threads, port=port):
        sold_out = new_template(total_quantity=1, issued_quantity=1)

        def sold():
            return cycling("POST", f"/api/v1/templates/{sold_out.pk}/claim", crowd)

        load(port, noop(), concurrency=4, duration=0.5)  # warm the workers and their connections
        meter = CpuMeter.for_server(port)
        # The figures are measured side by side in each run, so that the machine's noise (other
        # processes on two cores) hits both sides of a ratio alike; each run takes the peak over the
        # concurrency levels, and the medians of the runs are quoted.
        rows: list[dict[str, Result]] = []
        changed_rows: dict[str, tuple[int, int]] = {}
        with connection.cursor() as cursor:
            for _ in range(args.runs):
                pairs = {c: paired(port, (noop, c), (fresh, c), args.duration, meter=meter) for c in levels}
                noop_level = max(levels, key=lambda c: pairs[c][0].rate)
                claim_level = max(levels, key=lambda c: pairs[c][1].rate)
                row = {"noop": pairs[noop_level][0], "claim": pairs[claim_level][1]}
                row["cpu/noop"], row["cpu/claim"] = pairs[claim_level]  # both sides at the claim's peak
                row["claim/idem"], row["idem"] = paired(
                    port, (fresh, claim_level), (fresh_idempotent, claim_level), args.duration
                )
                # Per-table statistics are on for the sold-out pair only, both its sides alike (they cost
                # every statement some CPU, and the other figures do not need them).
                with table_statistics(cursor):
                    before = rows_by_table(cursor, SCHEMA)
                    row["noop/sold"], row["sold"] = paired(port, (noop, noop_level), (sold, noop_level), args.duration)
                    time.sleep(0.5)  # let the server settle the statistics before counting
                    after = rows_by_table(cursor, SCHEMA)
                for table, (read, changed) in rows_delta(after, before).items():
                    old = changed_rows.get(table, (0, 0))
                    changed_rows[table] = (old[0] + read, old[1] + changed)
                row["claim/crowd"], row["crowd"] = paired(port, (fresh, claim_level), (fresh, 200), args.duration)
                rows.append(row)
                print(
                    "  run: "
                    + "  ".join(f"{name} {r.rate:6.1f}/s" for name, r in row.items())
                    + f"  (peaks at c={noop_level} no-op, c={claim_level} claim)",
                    flush=True,
                )

            # Latency at half the peak claim rate: open loop (requests sent on a schedule whatever
            # the answers take), claims beside the no-op at the same rate.
            half = statistics.median(row["claim"].rate for row in rows) / 2
            calm_noop, calm_claim = paired(port, (noop, 16), (fresh, 16), 2 * args.duration, rate=half)

        # Hot claim: 200 customers, five attempts per unit of stock, limit 6 each.
        hot_stock, hot_attempts = args.hot_stock, 5 * args.hot_stock
        hot_template = new_template(total_quantity=hot_stock, per_user_limit=HOT_LIMIT, name="hot")
        attempts = [hot[i % HOT_CUSTOMERS] for i in range(hot_attempts)]
        hot_result = load(
            port,
            source("POST", f"/api/v1/templates/{hot_template.pk}/claim", attempts),
            concurrency=200,
            keep_codes=True,
        )

    def med(name: str) -> float:
        return statistics.median(row[name].rate for row in rows)

    def ratio(top: str, bottom: str) -> float:
        return statistics.median(row[top].rate / row[bottom].rate for row in rows)

    def errors(name: str) -> int:
        return sum(row[name].server_errors for row in rows)

    claim_ratio = ratio("claim", "noop")
    report.add(
        "claims/s, fresh stock, one per customer (peak over c=" + args.levels + ")",
        f"{med('claim'):.1f}/s (5xx {errors('claim')})",
        f"no-op DRF endpoint {med('noop'):.1f}/s",
        claim_ratio,
        ">= 0.6",
        claim_ratio >= 0.6 and errors("claim") == 0,
    )
    idem_ratio = ratio("idem", "claim/idem")
    idem_codes = sum((row["idem"].codes for row in rows), start=type(rows[0]["idem"].codes)())
    costs = {name: [CpuMeter.per_request(row[name]) for row in rows] for name in ("cpu/noop", "cpu/claim")}
    groups = list(costs["cpu/claim"][0])

    def cost(name: str) -> str:
        each = {g: statistics.median(run[g] for run in costs[name]) for g in groups}
        total = statistics.median(sum(run.values()) for run in costs[name])
        return ", ".join(f"{g} {ms:.2f}" for g, ms in each.items()) + f" (all {total:.2f} ms)"

    report.add(
        "CPU per request at the claim's peak, by process (/proc, the pair's slices)",
        "claim: " + cost("cpu/claim"),
        "no-op: " + cost("cpu/noop"),
        statistics.median(sum(n.values()) / sum(c.values()) for n, c in zip(*costs.values(), strict=True)),
        "",
        None,
    )
    report.add(
        "claims/s with an Idempotency-Key on each",
        f"{med('idem'):.1f}/s (errors {dict(idem_codes) or 0})",
        f"claims without {med('claim/idem'):.1f}/s",
        idem_ratio,
        ">= 0.8",
        idem_ratio >= 0.8 and errors("idem") == 0 and not idem_codes,
    )
    changed = sum(c for _read, c in changed_rows.values())
    read_tables = sorted(t for t, (read, _c) in changed_rows.items() if read)
    refusals = sum((row["sold"].codes for row in rows), start=type(rows[0]["sold"].codes)())
    sold_ratio = ratio("sold", "noop/sold")
    report.add(
        "sold-out claims/s",
        f"{med('sold'):.1f}/s, rows changed {changed}, tables read {read_tables or 'none'}",
        f"no-op {med('noop/sold'):.1f}/s",
        sold_ratio,
        ">= 0.8",
        sold_ratio >= 0.8 and changed == 0 and set(refusals) == {"SOLD_OUT"},
    )
    crowd_ratio = ratio("crowd", "claim/crowd")
    crowd_p99 = statistics.median(r["crowd"].p(0.99) for r in rows)
    report.add(
        "claims/s at 200 clients",
        f"{med('crowd'):.1f}/s (5xx {errors('crowd')}, p99 {crowd_p99:.0f} ms)",
        f"peak {med('claim/crowd'):.1f}/s",
        crowd_ratio,
        ">= 0.7",
        crowd_ratio >= 0.7 and errors("crowd") == 0,
    )
    report.add(
        f"claim latency at half the peak rate ({half:.0f}/s, open loop)",
        f"p50 {calm_claim.p(0.5):.1f} ms, p99 {calm_claim.p(0.99):.1f} ms",
        f"no-op at the same rate p50 {calm_noop.p(0.5):.1f} ms, p99 {calm_noop.p(0.99):.1f} ms",
        calm_claim.p(0.99) / calm_noop.p(0.99) if calm_noop.p(0.99) else None,
        "",
        None if calm_claim.server_errors == 0 else False,
    )
    hot_template.refresh_from_db()
    issued = UserCoupon.objects.filter(template=hot_template).count()
    most = (
        UserCoupon.objects.filter(template=hot_template)
        .values("user_id")
        .annotate(n=Count("id"))
        .aggregate(m=Max("n"))["m"]
        or 0
    )
    hot_ok = (
        issued == hot_stock == hot_template.issued_quantity
        and most <= HOT_LIMIT
        and hot_result.server_errors == 0
        and hot_result.count == hot_attempts
    )
    report.add(
        f"hot claim: stock {hot_stock}, {HOT_CUSTOMERS} customers, {hot_attempts} attempts",
        f"issued {issued} (template {hot_template.issued_quantity}), most per customer {most}, answers"
        f" {dict(hot_result.statuses)} {dict(hot_result.codes)}",
        f"stock {hot_stock}, limit {HOT_LIMIT} each",
        None,
        "exact",
        hot_ok,
    )
    sold = CouponTemplate.objects.filter(pk=sold_out.pk).values_list("issued_quantity", flat=True).get()
    print(f"(the sold-out template still says issued {sold})")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
