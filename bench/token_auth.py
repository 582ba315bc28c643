"""CPU of an authenticated request in process: DRF's ORM token lookup beside the one-join class, and the
health check's ping on every request beside the ping skipped within the grace.

Run from the repository root: ``.venv/bin/python bench/token_auth.py``. It uses its own MariaDB database
(``BENCH_AUTH_DATABASE_URL``, default ``mysql://root@127.0.0.1:3306/coupons_bench_auth``), creates and
migrates it, and keeps one customer and their token in it. Not part of the test suite; light (one process,
one thread, a few seconds).

Each variant sends the same POST to the no-op endpoint through Django's WSGI handler (request_started and
request_finished included, as under gunicorn), in rounds interleaved with the other variants; the figure is
the median over rounds of the process CPU time per request. Also printed: the authentication call alone,
and the same join sent through a plain cursor without building the user and token.
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

from bench import _wsgi as wsgi  # noqa: E402
from bench._server import create_database  # noqa: E402

os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
os.environ["DATABASE_URL"] = os.environ.get("BENCH_AUTH_DATABASE_URL", "mysql://root@127.0.0.1:3306/coupons_bench_auth")
os.environ["BENCH_NOOP"] = "true"

ROUNDS = int(os.environ.get("BENCH_AUTH_ROUNDS", "7"))
REQUESTS = int(os.environ.get("BENCH_AUTH_REQUESTS", "1000"))
JOIN_ALONE = "the same join, plain cursor, no objects built"


create_database(os.environ["DATABASE_URL"])

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.test import APIRequestFactory

from core.api.authentication import SingleQueryTokenAuthentication, _lookup_for
from coupons.api.customer import BenchNoopApi


def setup_customer() -> str:
    call_command("migrate", verbosity=0, interactive=False)
    user, _ = get_user_model().objects.get_or_create(username="bench-auth")
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


KEY = setup_customer()
HANDLER = WSGIHandler()
PINGS = [0]
_is_usable = connection.is_usable


def _counted_is_usable() -> bool:
    PINGS[0] += 1
    return _is_usable()


connection.is_usable = _counted_is_usable  # type: ignore[method-assign]


def post_noop() -> None:
    status = wsgi.post(HANDLER, "/api/v1/bench/noop/1", KEY)
    if not status.startswith("201"):
        raise SystemExit(f"no-op answered {status}")


def variant(auth_class: type, grace: float) -> Callable[[], None]:
    def configure() -> None:
        BenchNoopApi.authentication_classes = [auth_class, SessionAuthentication]
        connection.settings_dict["HEALTH_CHECK_GRACE"] = grace

    return configure


VARIANTS = {
    "before: DRF TokenAuthentication, ping every request": variant(TokenAuthentication, 0),
    "one-join authentication, ping every request": variant(SingleQueryTokenAuthentication, 0),
    "after: one-join authentication, ping skipped within 1 s": variant(SingleQueryTokenAuthentication, 1.0),
}


def per_request(configure: Callable[[], None]) -> tuple[float, float, float, float]:
    """CPU µs, wall µs, queries and pings per request over one round."""
    configure()
    post_noop()  # warm-up of this configuration
    PINGS[0] = 0
    with CaptureQueriesContext(connection) as queries:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(REQUESTS):
            post_noop()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    # CaptureQueriesContext forces the debug cursor; time it out of the figures with a separate round.
    return cpu, wall, len(queries) / REQUESTS, PINGS[0] / REQUESTS


def timed_round(configure: Callable[[], None]) -> tuple[float, float]:
    configure()
    post_noop()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(REQUESTS):
        post_noop()
    return (time.process_time() - cpu) / REQUESTS * 1e6, (time.perf_counter() - wall) / REQUESTS * 1e6


def auth_alone(auth_class: type) -> float:
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {KEY}")
    authenticator = auth_class()
    authenticator.authenticate(request)
    cpu = time.process_time()
    for _ in range(REQUESTS):
        authenticator.authenticate(request)
    return (time.process_time() - cpu) / REQUESTS * 1e6


def join_alone() -> float:
    """The class's own join and row fetch through a plain cursor, no objects built: the floor."""
    sql = _lookup_for(connection).sql
    cpu = time.process_time()
    for _ in range(REQUESTS):
        with connection.cursor() as cursor:
            cursor.execute(sql, [KEY])
            cursor.fetchone()
    return (time.process_time() - cpu) / REQUESTS * 1e6


def main() -> None:
    counts = {name: per_request(configure)[2:] for name, configure in VARIANTS.items()}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
    auth: dict[str, list[float]] = {"DRF TokenAuthentication": [], "one-join": [], JOIN_ALONE: []}
    for _ in range(ROUNDS):
        for name, configure in VARIANTS.items():
            c, w = timed_round(configure)
            cpu[name].append(c)
            wall[name].append(w)
        auth["DRF TokenAuthentication"].append(auth_alone(TokenAuthentication))
        auth["one-join"].append(auth_alone(SingleQueryTokenAuthentication))
        auth[JOIN_ALONE].append(join_alone())

    load = os.getloadavg()
    print(f"{ROUNDS} interleaved rounds of {REQUESTS} requests; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'POST /api/v1/bench/noop/1 (WSGI handler)':58} {'CPU µs':>8} {'wall µs':>8} {'queries':>8} {'pings':>6}")
    for name in VARIANTS:
        queries, pings = counts[name]
        print(
            f"{name:58} {statistics.median(cpu[name]):8.0f} {statistics.median(wall[name]):8.0f} "
            f"{queries:8.2f} {pings:6.2f}"
        )
    before, after = (statistics.median(cpu[name]) for name in (list(VARIANTS)[0], list(VARIANTS)[-1]))
    print(f"CPU per request after / before: {after / before:.2f}")
    print(f"{'authentication call alone':58} {'CPU µs':>8}")
    for name, values in auth.items():
        print(f"{name:58} {statistics.median(values):8.0f}")


if __name__ == "__main__":
    main()
