"""The customer's hot paths measured with wrk beside the no-op: a load client apart from the project's own.

Run from the repository root: ``.venv/bin/python bench/wrk_paths.py [--duration 5] [--connections 16]
[--runs 3]``. Needs ``wrk`` (Debian's package). It serves bench/checkout.py's database
(``BENCH_CHECKOUT_DATABASE_URL``: the data is built on the first run and reused after) with the README's
production server (gunicorn, two gthread workers per core, four threads each) and adds 20,000 customers
with tokens. Not part of ``make bench`` (its figures have no target; ``bench/claim.py`` and
``bench/checkout.py`` hold the targets).

Each run measures, in turn with a no-op run before each path (the same token authentication, the same
connections and duration), with wrk's keep-alive connections:
- claims: every request by the next customer of the crowd (a fresh template per run, limit 1 per customer);
- claims with an ``Idempotency-Key`` (a fresh key per request);
- the claim center (``GET /api/v1/claim-center/``) of a customer of the crowd;
- the checkout preview of the checkout benchmark's customer (200 coupons, a 30-line cart).
Printed per path: the medians of the runs' requests/s beside the no-op's, the ratio, wrk's p50 and p99
latency, non-2xx answers, and the load average.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CROWD = 20_000

# Each wrk thread takes its own stretch of the tokens, in turn; a fresh Idempotency-Key per request.
LUA = """
local tokens = {}
for line in io.lines(os.getenv("WRK_TOKENS")) do tokens[#tokens + 1] = line end
local method, path = os.getenv("WRK_METHOD"), os.getenv("WRK_PATH")
local body, keyed, nonce = os.getenv("WRK_BODY"), os.getenv("WRK_KEYED"), os.getenv("WRK_NONCE")
local stretch = math.floor(#tokens / tonumber(os.getenv("WRK_THREADS")))
local counter = 1
local threads = {}
function setup(thread)
    thread:set("first", counter)
    table.insert(threads, thread)
    counter = counter + 1
end
refused = ""
function response(status, headers, body)
    if status >= 300 and #refused < 300 then refused = refused .. status .. ":" .. body:sub(1, 60) .. " | " end
end
local n = 0
local step = 0
function init(args)
    n = (first - 1) * stretch
end
function request()
    n = n + 1
    local headers = {["Authorization"] = "Token " .. tokens[(n % #tokens) + 1], ["Content-Type"] = "application/json"}
    if keyed == "1" then
        step = step + 1
        headers["Idempotency-Key"] = string.format("%s-%d-%d", nonce, first, step)
    end
    return wrk.format(method, path, headers, body ~= "" and body or nil)
end
done = function(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format("RESULT %d %.3f %d %d %d %.1f %.1f\\n", summary.requests, summary.duration / 1e6,
        errors.status, errors.connect + errors.read + errors.write + errors.timeout,
        0, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
    for _, thread in ipairs(threads) do io.write("REFUSED " .. (thread:get("refused") or "") .. "\\n") end
end
"""


def wrk(port: int, script: Path, *, method: str, path: str, tokens: Path, duration: float, connections: int,
        body: str = "", keyed: bool = False) -> dict[str, float]:  # fmt: skip
    env = {**os.environ, "WRK_TOKENS": str(tokens), "WRK_METHOD": method, "WRK_PATH": path, "WRK_BODY": body,
           "WRK_KEYED": "1" if keyed else "0", "WRK_NONCE": uuid.uuid4().hex}  # fmt: skip
    threads = min(2, connections)
    env["WRK_THREADS"] = str(threads)
    done = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "-s", str(script),
         f"http://127.0.0.1:{port}{path}"],
        env=env, capture_output=True, text=True, errors="replace", check=False,
    )  # fmt: skip
    match = re.search(r"RESULT (\d+) ([\d.]+) (\d+) (\d+) \d+ ([\d.]+) ([\d.]+)", done.stdout)
    if match is None:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stdout} {done.stderr}")
    requests, seconds, non_2xx, socket_errors, p50, p99 = match.groups()
    lines = done.stdout.splitlines()
    refused = " ".join(line[8:] for line in lines if line.startswith("REFUSED ") and line[8:].strip())
    return {
        "rate": int(requests) / float(seconds),
        "non_2xx": int(non_2xx),
        "socket_errors": int(socket_errors),
        "p50": float(p50),
        "p99": float(p99),
        "refused": refused,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per side")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)")
        return 2

    checkout = importlib.import_module("bench.checkout")  # sets up Django and its database

    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from bench._server import THREADS, WORKERS, free_port, gunicorn

    customer, lines = checkout.reused_or_built()
    user_model = get_user_model()
    if user_model.objects.filter(username__startswith="bench-wrk-").count() != CROWD:
        user_model.objects.filter(username__startswith="bench-wrk-").delete()
        crowd_users = [user_model(username=f"bench-wrk-{i:06d}") for i in range(CROWD)]
        user_model.objects.bulk_create(crowd_users, batch_size=2000)
        users = user_model.objects.filter(username__startswith="bench-wrk-")
        Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users], batch_size=2000)
    crowd = list(Token.objects.filter(user__username__startswith="bench-wrk-").values_list("key", flat=True))

    claim_bench = importlib.import_module("bench.claim")
    work = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    script = work / "paths.lua"
    script.write_text(LUA)
    crowd_file, customer_file = work / "crowd.txt", work / "customer.txt"
    crowd_file.write_text("\n".join(crowd) + "\n")
    customer_file.write_text(checkout.token_for(customer) + "\n")
    preview_body = json.dumps({"lines": lines, "channel": "APP"})

    paths = {
        "claim": lambda: {"method": "POST", "path": f"/api/v1/templates/{claim_bench.new_template().pk}/claim",
                          "tokens": crowd_file},
        "claim with Idempotency-Key": lambda: {
            "method": "POST", "path": f"/api/v1/templates/{claim_bench.new_template().pk}/claim",
            "tokens": crowd_file, "keyed": True},
        "claim center": lambda: {"method": "GET", "path": "/api/v1/claim-center/", "tokens": crowd_file},
        "checkout preview": lambda: {"method": "POST", "path": "/api/v1/checkout/preview", "tokens": customer_file,
                                     "body": preview_body},
    }  # fmt: skip
    noop = {"method": "POST", "path": "/api/v1/bench/noop/1", "tokens": crowd_file}
    figures: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {name: [] for name in paths}
    port = free_port()
    print(f"gunicorn gthread {WORKERS} workers x {THREADS} threads; wrk {args.connections} connections, "
          f"{args.runs} runs of {args.duration}s per side; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    with gunicorn(os.environ.copy(), workers=WORKERS, threads=THREADS, port=port):
        # Warm the workers: their connections, caches and code paths.
        wrk(port, script, duration=3, connections=args.connections, **noop)
        for make in paths.values():
            wrk(port, script, duration=1, connections=args.connections, **make())
        for _ in range(args.runs):
            for name, make in paths.items():
                reference = wrk(port, script, duration=args.duration, connections=args.connections, **noop)
                measured = wrk(port, script, duration=args.duration, connections=args.connections, **make())
                figures[name].append((measured, reference))
                if measured["refused"] or reference["refused"]:
                    print(f"  {name}: refused {measured['refused'] or reference['refused']}", flush=True)
    print(f"{'path':28} {'req/s':>8} {'no-op/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>8}")
    for name, rows in figures.items():
        rate = statistics.median(m["rate"] for m, _r in rows)
        reference = statistics.median(r["rate"] for _m, r in rows)
        ratio = statistics.median(m["rate"] / r["rate"] for m, r in rows)
        p50 = statistics.median(m["p50"] for m, _r in rows)
        p99 = statistics.median(m["p99"] for m, _r in rows)
        errors = sum(m["non_2xx"] + m["socket_errors"] for m, _r in rows)
        print(f"{name:28} {rate:8.1f} {reference:8.1f} {ratio:6.2f} {p50:7.1f} {p99:7.1f} {errors:8d}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
