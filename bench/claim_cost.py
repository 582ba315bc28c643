"""Cost of one claim request in process, beside the no-op endpoint: CPU, wall time and statements.

Run from the repository root: ``.venv/bin/python bench/claim_cost.py``. It uses its own MariaDB database
(``BENCH_CLAIM_COST_DATABASE_URL``, default ``mysql://root@127.0.0.1:3306/coupons_bench_claim_cost``),
creates and migrates it, and uses Redis at ``REDIS_URL`` for the admission gate when set. Not part of the
test suite; light (one process, one thread, a few seconds).

Three requests go through Django's WSGI handler (middleware, token authentication, request_started and
request_finished included, as under gunicorn), each by a fresh customer as in ``bench/claim.py``: the
no-op endpoint, a claim, and a claim with an ``Idempotency-Key``. Rounds alternate the three; the figures
are medians over rounds of the process CPU and wall time per request, with the statements each request
sent (the server's ``Questions`` counter: transaction control such as ``SET autocommit`` included) and the
load average. The claim's CPU above the no-op's is what this process spends on the claim; its wall time
above its CPU is mostly the database (its commit waits for the redo log to reach the disk).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _wsgi as wsgi  # noqa: E402
from bench._data import CLAIM_TEMPLATE  # noqa: E402
from bench._server import create_database  # noqa: E402

os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_CLAIM_COST_DATABASE_URL", "mysql://root@127.0.0.1:3306/coupons_bench_claim_cost"
)
os.environ["BENCH_NOOP"] = "true"

ROUNDS = int(os.environ.get("BENCH_CLAIM_COST_ROUNDS", "7"))
REQUESTS = int(os.environ.get("BENCH_CLAIM_COST_REQUESTS", "300"))


create_database(os.environ["DATABASE_URL"])

import django

django.setup()

from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import connection

from coupons.ledger import gate
from coupons.models import CouponTemplate, TemplateStatus

HANDLER = WSGIHandler()


def post(path: str, token: str, *, idempotent: bool = False) -> None:
    status = wsgi.post(HANDLER, path, token, idempotency_key=uuid.uuid4().hex if idempotent else None)
    if not status.startswith("201"):
        raise SystemExit(f"{path} answered {status}")


def setup() -> tuple[CouponTemplate, list[str]]:
    call_command("migrate", verbosity=0, interactive=False)
    needed = (ROUNDS + 1) * 3 * REQUESTS
    tokens = wsgi.customers_with_tokens(f"bench-cost-{int(time.time())}-", needed)
    template = CouponTemplate.objects.create(name="bench claim cost", **CLAIM_TEMPLATE, status=TemplateStatus.APPROVED)
    gate.load(template)  # as the approval signal does
    return template, tokens


def questions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Questions'")
        return int(cursor.fetchone()[1])


def main() -> None:
    template, tokens = setup()
    feed = iter(tokens)
    claim_path = f"/api/v1/templates/{template.pk}/claim"
    variants: dict[str, Callable[[], None]] = {
        "POST /api/v1/bench/noop/1": lambda: post("/api/v1/bench/noop/1", next(feed)),
        "claim": lambda: post(claim_path, next(feed)),
        "claim with Idempotency-Key": lambda: post(claim_path, next(feed), idempotent=True),
    }
    for request in variants.values():  # warm-up: code paths, caches, the gate's memo
        for _ in range(REQUESTS // 10):
            request()
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, request in variants.items():
            sent = questions()
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(REQUESTS):
                request()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            sent = questions() - sent - 1
            figures[name].append((cpu / REQUESTS * 1e6, wall / REQUESTS * 1e6, sent / REQUESTS))

    load = os.getloadavg()
    print(f"{ROUNDS} alternating rounds of {REQUESTS} requests; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'request (WSGI handler)':32} {'CPU µs':>8} {'wall µs':>8} {'statements':>10}")
    medians = {}
    for name, rows in figures.items():
        cpu, wall, sent = (statistics.median(row[i] for row in rows) for i in range(3))
        medians[name] = cpu
        print(f"{name:32} {cpu:8.0f} {wall:8.0f} {sent:10.2f}")
    noop, claim, keyed = medians.values()
    print(f"claim CPU above the no-op: {claim - noop:.0f} µs; the Idempotency-Key adds {keyed - claim:.0f} µs")


if __name__ == "__main__":
    main()
