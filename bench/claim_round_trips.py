"""Time per claim in process: the claim's statements sent one by one beside the stored procedure's one CALL.

Run from the repository root: ``.venv/bin/python bench/claim_round_trips.py``. It uses its own MariaDB
database (``BENCH_CLAIM_SQL_DATABASE_URL``, default ``mysql://root@127.0.0.1:3306/coupons_bench_claim_sql``),
creates and migrates it, and uses Redis at ``REDIS_URL`` for the admission gate when set. Not part of the
test suite; light (one process, one thread, a few seconds).

Both variants run ``coupon_claim`` (gate, cached template, issuing) and differ only in how the one coupon
is written on MySQL/MariaDB: "statements" is the path before the procedure (START TRANSACTION, stock
UPDATE, quota INSERT IGNORE and, for a repeat claim, quota UPDATE, coupon INSERT, COMMIT), "procedure" is
the path now (one ``CALL coupons_claim_one``). Rounds alternate the two (ABBA); the figures are medians
over rounds of the wall and CPU time per claim, with the statements each claim sent (the server's
``Questions`` counter) and the load average.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import create_database  # noqa: E402

os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_CLAIM_SQL_DATABASE_URL", "mysql://root@127.0.0.1:3306/coupons_bench_claim_sql"
)

ROUNDS = int(os.environ.get("BENCH_CLAIM_SQL_ROUNDS", "8"))
CLAIMS = int(os.environ.get("BENCH_CLAIM_SQL_CLAIMS", "300"))


create_database(os.environ["DATABASE_URL"])

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from core.db import AfterCommit, plain_transaction
from coupons.ledger import issuing
from coupons.models import CouponTemplate, TemplateStatus, UserCoupon
from coupons.services.claim import coupon_claim, forget_templates

PROCEDURE = issuing._issue_one


def statements(**fields) -> list[UserCoupon]:
    """The one-coupon path before the procedure: each statement its own round trip."""
    template = fields["template"]

    def plain(after_commit: AfterCommit) -> list[UserCoupon]:
        coupons, issued = issuing._issue(**fields, quantity=1, now=timezone.now())
        if issuing._closes_gate(template, issued):
            after_commit.append(lambda: issuing._record_issued(template.pk, issued))
        return coupons

    return plain_transaction(plain)


VARIANTS: dict[str, Callable[..., list[UserCoupon]]] = {"statements": statements, "procedure": PROCEDURE}


def questions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Questions'")
        return int(cursor.fetchone()[1])


def setup() -> tuple[CouponTemplate, CouponTemplate, list, object]:
    call_command("migrate", verbosity=0, interactive=False)
    forget_templates()
    user_model = get_user_model()
    prefix = f"bench-claim-{int(time.time())}-"
    needed = ROUNDS * 2 * CLAIMS + 1
    user_model.objects.bulk_create([user_model(username=f"{prefix}{i}") for i in range(needed)], batch_size=2000)
    users = list(user_model.objects.filter(username__startswith=prefix).order_by("pk"))
    common = {
        "name": "bench claim round trips",
        "type": "CASH_VOUCHER",
        "value": {"amount": "10.00"},
        "total_quantity": -1,
        "validity_type": "RELATIVE_DAYS",
        "valid_days_after_issue": 7,
        "target": {"type": "ALL"},
        "status": TemplateStatus.APPROVED,
    }
    # one claim per customer (the quota row is inserted), and one customer claiming again and again (updated)
    first = CouponTemplate.objects.create(**common, per_user_limit=1)
    repeat = CouponTemplate.objects.create(**common, per_user_limit=10**9)
    return first, repeat, users[1:], users[0]


def timed_round(variant: str, template: CouponTemplate, users: list) -> tuple[float, float, float]:
    """Wall µs, CPU µs and statements per claim."""
    issuing._issue_one = VARIANTS[variant]  # type: ignore[assignment]
    sent = questions()
    cpu, wall = time.process_time(), time.perf_counter()
    for user in users:
        coupon_claim(user=user, template_id=template.pk)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    sent = questions() - sent - 1
    return wall / len(users) * 1e6, cpu / len(users) * 1e6, sent / len(users)


def main() -> None:
    first, repeat, users, regular = setup()
    for template in (first, repeat):  # warm the template cache and the gate entry
        coupon_claim(user=regular, template_id=template.pk)
    load_before = os.getloadavg()
    figures: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    pool = iter(users)
    for index in range(ROUNDS):
        order = list(VARIANTS) if index % 2 == 0 else list(reversed(VARIANTS))
        for variant in order:
            batch = [next(pool) for _ in range(CLAIMS)]
            figures.setdefault(("first claim", variant), []).append(timed_round(variant, first, batch))
            figures.setdefault(("repeat claim", variant), []).append(timed_round(variant, repeat, [regular] * CLAIMS))
    issuing._issue_one = PROCEDURE  # type: ignore[assignment]
    load_after = os.getloadavg()

    expected = UserCoupon.objects.filter(template=first).count()
    assert expected == ROUNDS * 2 * CLAIMS + 1 == CouponTemplate.objects.get(pk=first.pk).issued_quantity

    print(
        f"{ROUNDS} alternating rounds of {CLAIMS} claims per variant; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after ({os.cpu_count()} cores)"
    )
    print(f"{'claim':14} {'variant':11} {'wall µs':>8} {'CPU µs':>8} {'statements':>10}   wall per round")
    for scenario in ("first claim", "repeat claim"):
        for variant in VARIANTS:
            rounds = figures[(scenario, variant)]
            wall = statistics.median(r[0] for r in rounds)
            cpu = statistics.median(r[1] for r in rounds)
            sent = statistics.median(r[2] for r in rounds)
            spread = " ".join(f"{r[0]:.0f}" for r in rounds)
            print(f"{scenario:14} {variant:11} {wall:8.0f} {cpu:8.0f} {sent:10.2f}   {spread}")
        before, after = (statistics.median(r[0] for r in figures[(scenario, v)]) for v in VARIANTS)
        print(f"{scenario:14} procedure / statements, wall: {after / before:.2f}")


if __name__ == "__main__":
    main()
