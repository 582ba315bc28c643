"""Instructions a claim request costs the web process, beside the no-op request: counted, not timed.

Run from the repository root: ``.venv/bin/python bench/claim_instructions.py``. It needs ``valgrind``
(Debian's package). It uses its own MariaDB database (``BENCH_CLAIM_INSTRUCTIONS_DATABASE_URL``, default
``mysql://root@127.0.0.1:3306/coupons_bench_claim_instructions``), creates and migrates it, and Redis at
``REDIS_URL`` for the admission gate when set. Not part of the test suite; a few minutes.

Timings of a web process on a shared machine move by a third from run to run; the instructions it runs
do not. Each figure comes from two processes under ``valgrind --tool=callgrind`` that send requests
through Django's WSGI handler (as ``bench/claim_cost.py`` does: middleware, token authentication,
``request_started`` and ``request_finished`` included), one sending ``--small`` requests and one ``--large``,
each by a fresh customer after the same warm-up: the difference of their instruction counts divided by
the difference of their requests is one request's instructions, start-up and warm-up taken out. Printed:
a claim's instructions beside the no-op's, a claim with an ``Idempotency-Key`` beside a claim without.

Instructions are the web process's own CPU work in user space: the database server's, the kernel's (the
round trips' system calls) and the time spent waiting are not in them. Time-based caches (the admission
gate's 0.1 s memo, the webhook subscription list) expire more often under valgrind than at full speed, so a
claim's figure includes about one Redis call of the gate per request.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _wsgi as wsgi  # noqa: E402
from bench._data import CLAIM_TEMPLATE  # noqa: E402
from bench._report import Report  # noqa: E402
from bench._server import create_database  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_CLAIM_INSTRUCTIONS_DATABASE_URL", "mysql://root@127.0.0.1:3306/coupons_bench_claim_instructions"
)
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["BENCH_NOOP"] = "true"
create_database(DATABASE_URL)  # before Django connects; the counted processes pay it before their warm-up

import django  # noqa: E402

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402

from coupons.ledger import gate  # noqa: E402
from coupons.models import CouponTemplate, TemplateStatus  # noqa: E402

WARM_UP = 20
VARIANTS = ("noop", "claim", "keyed")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=50, help="requests of the smaller process")
    parser.add_argument("--large", type=int, default=250, help="requests of the larger process")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "COUNT", "OFFSET"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    return parser.parse_args()


# The parent: data, the counted processes, the report -------------------------------------------------


def prepare(customers: int) -> dict[str, object]:
    """Fresh customers with tokens and an approved template, as ``bench/claim.py`` makes them."""
    call_command("migrate", verbosity=0, interactive=False)
    tokens = wsgi.customers_with_tokens(f"bench-instructions-{uuid.uuid4().hex[:8]}-", customers)
    template = CouponTemplate.objects.create(
        name="bench claim instructions", **CLAIM_TEMPLATE, status=TemplateStatus.APPROVED
    )
    gate.load(template)  # as the approval signal does
    return {"template": template.pk, "tokens": tokens}


_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def counted(variant: str, count: int, offset: int, data_file: str) -> int:
    """Instructions of one process sending ``count`` requests of ``variant`` (after the warm-up)."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, str(Path(__file__).resolve()),
        "--child", variant, str(count), str(offset), "--data", data_file,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{variant} x{count} failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    return int(found.group(1))


def main() -> int:
    args = parse()
    if args.child:
        return child(*args.child, data_file=args.data)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    if args.large <= args.small:
        raise SystemExit("--large must be more than --small")
    report = Report("claim_instructions", ".venv/bin/python bench/claim_instructions.py")
    per_process = WARM_UP + args.large
    data = prepare(customers=len(VARIANTS) * 2 * per_process)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(data, handle)
    jobs = []
    offset = 0
    for variant in VARIANTS:
        for count in (args.small, args.large):
            jobs.append((variant, count, offset))
            offset += per_process
    try:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            totals = list(pool.map(lambda job: counted(*job, data_file=handle.name), jobs))
    finally:
        os.unlink(handle.name)
    by_job = dict(zip(((variant, count) for variant, count, _ in jobs), totals, strict=True))
    per_request = {
        variant: (by_job[variant, args.large] - by_job[variant, args.small]) / (args.large - args.small)
        for variant in VARIANTS
    }
    noop, claim, keyed = (per_request[variant] for variant in VARIANTS)
    steps = f"({args.large} - {args.small} requests)"
    report.add(
        f"instructions per claim request in the web process {steps}",
        f"{claim / 1e6:.3f} M",
        f"no-op request {noop / 1e6:.3f} M",
        noop / claim,
        ok=None,
    )
    report.add(
        "instructions per claim request with an Idempotency-Key",
        f"{keyed / 1e6:.3f} M",
        f"claim without {claim / 1e6:.3f} M",
        claim / keyed,
        ok=None,
    )
    return report.finish()


# A counted process -------------------------------------------------------------------------------------


def child(variant: str, count: str, offset: str, *, data_file: str) -> int:
    handler = WSGIHandler()
    with open(data_file) as handle:
        data = json.load(handle)
    tokens = iter(data["tokens"][int(offset) :])
    path = "/api/v1/bench/noop/1" if variant == "noop" else f"/api/v1/templates/{data['template']}/claim"

    def post(token: str) -> None:
        key = uuid.uuid4().hex if variant == "keyed" else None
        status = wsgi.post(handler, path, token, idempotency_key=key)
        if not status.startswith("201"):
            raise SystemExit(f"{path} answered {status}")

    started = time.monotonic()
    for _ in range(WARM_UP + int(count)):
        post(next(tokens))
    print(f"{variant} x{count}: {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
