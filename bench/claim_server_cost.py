"""What a claim costs the database server: MariaDB's CPU per claim ``CALL``, piece by piece, beside the
no-op request's one statement (the token join).

Run from the repository root: ``.venv/bin/python bench/claim_server_cost.py``. It uses its own MariaDB
database (``BENCH_CLAIM_SERVER_DATABASE_URL``, default
``mysql://root@127.0.0.1:3306/coupons_bench_claim_server``), creates and migrates it, and reads the CPU of
the server's process (``mariadbd`` or ``mysqld`` on this machine) from ``/proc``. Not part of the test
suite; about half a minute.

The variants are made from the claim procedure's own text (``claim_procedure.create_sql``), with the
same parameters, so each is the claim with a piece taken away:
- the claim's ``CALL`` (``coupons_claim_one``, as the claim endpoint sends it, with rows made by
  ``build_coupon``);
- the same without the coupon ``INSERT`` (stock ``UPDATE``, quota ``INSERT IGNORE``, ``COMMIT``);
- the stock ``UPDATE`` and ``COMMIT`` alone, in a procedure with the same parameters;
- an empty procedure with the same parameters (the ``CALL`` itself: parsing its 16 values, the answer);
- the no-op request's token join (``core.api.authentication``), the yardstick's one statement.

Rounds alternate the variants, once on one connection and once on 8 connections at a time (each variant
on a template of its own, fresh each round); the figures are medians over rounds of the server's CPU per
statement (the kernel counts a process's CPU in ticks of 10 ms, so each figure spans thousands of
statements). Each durable commit waits for the redo log to reach the disk
(``innodb_flush_log_at_trx_commit``, printed).
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._data import CLAIM_TEMPLATE  # noqa: E402
from bench._server import cpu_seconds, create_database, pids_of  # noqa: E402

os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_CLAIM_SERVER_DATABASE_URL", "mysql://root@127.0.0.1:3306/coupons_bench_claim_server"
)

ROUNDS = int(os.environ.get("BENCH_CLAIM_SERVER_ROUNDS", "3"))
CALLS = int(os.environ.get("BENCH_CLAIM_SERVER_CALLS", "4000"))
THREADS = 8

create_database(os.environ["DATABASE_URL"])

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.utils import IntegrityError
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.api.authentication import _lookup_for
from coupons.ledger import claim_procedure
from coupons.ledger.issuing import COUPON_COLUMNS, build_coupon, coupon_row, is_code_collision
from coupons.models import ClaimQuota, CouponSource, CouponTemplate, TemplateStatus, UserCoupon

WITHOUT_INSERT = "bench_claim_without_insert"
STOCK_ONLY = "bench_claim_stock_only"
EMPTY = "bench_claim_empty"
CLAIM = "the claim's CALL"
TOKEN_JOIN = "the no-op's token join"
VARIANTS = {
    CLAIM: claim_procedure.PROCEDURE,
    "without the coupon INSERT": WITHOUT_INSERT,
    "the stock UPDATE and COMMIT alone": STOCK_ONLY,
    "an empty CALL, same parameters": EMPTY,
    TOKEN_JOIN: "",
}


def create_variants() -> None:
    """The claim procedure's text with pieces taken away, created beside it."""
    with connection.schema_editor(atomic=False) as editor:
        full = claim_procedure.create_sql(
            editor, template_model=CouponTemplate, quota_model=ClaimQuota, coupon_model=UserCoupon
        )
    head, _, body = full.partition("MODIFIES SQL DATA")
    params = head[head.index("(") :]
    insert = re.compile(r"INSERT INTO `[^`]+usercoupon` .*?;\s*SET v_coupon_id = LAST_INSERT_ID\(\);", re.S)
    without_insert, found = insert.subn("SET v_coupon_id = 0;", body)
    if found != 1:
        raise SystemExit("the claim procedure's coupon INSERT was not found: this measurement needs updating")
    template = connection.ops.quote_name(CouponTemplate._meta.db_table)
    bodies = {
        WITHOUT_INSERT: without_insert,
        STOCK_ONLY: (
            "\nBEGIN\n    START TRANSACTION;\n"
            f"    UPDATE {template} SET issued_quantity = issued_quantity + 1 WHERE id = p_template_id;\n"
            "    COMMIT;\n    SELECT NULL, NULL, NULL, 1, 1;\nEND"
        ),
        EMPTY: "\nBEGIN\n    SELECT NULL, NULL, NULL, 1, 1;\nEND",
    }
    with connection.cursor() as cursor:
        for name, text in bodies.items():
            cursor.execute(claim_procedure.drop_sql(name))
            cursor.execute(f"CREATE PROCEDURE {name}{params}MODIFIES SQL DATA{text}")


def setup() -> tuple[list[int], list[str]]:
    call_command("migrate", verbosity=0, interactive=False)
    user_model = get_user_model()
    prefix = "bench-server-"
    if user_model.objects.filter(username__startswith=prefix).count() != CALLS:
        user_model.objects.filter(username__startswith=prefix).delete()
        user_model.objects.bulk_create([user_model(username=f"{prefix}{i:05d}") for i in range(CALLS)])
        users = user_model.objects.filter(username__startswith=prefix)
        Token.objects.bulk_create([Token(user=user, key=Token.generate_key()) for user in users])
    UserCoupon.objects.all().delete()
    ClaimQuota.objects.all().delete()
    CouponTemplate.objects.all().delete()
    create_variants()
    tokens = Token.objects.filter(user__username__startswith=prefix).order_by("user_id")
    return list(tokens.values_list("user_id", flat=True)), list(tokens.values_list("key", flat=True))


def new_template() -> CouponTemplate:
    return CouponTemplate.objects.create(
        name="bench claim server cost", **CLAIM_TEMPLATE, status=TemplateStatus.APPROVED
    )


def claim_params(template: CouponTemplate, user_id: int) -> list:
    """The claim's ``CALL`` parameters, made as ``issuing`` makes them."""
    coupon = build_coupon(template=template, user_id=user_id, issued_at=timezone.now(), source=CouponSource.CLAIM)
    row = dict(zip(COUPON_COLUMNS, coupon_row(coupon), strict=True))
    values = (row[column] for column in claim_procedure.COLUMNS)
    return [template.pk, user_id, template.per_user_limit, row["acquired_at"], *values]


def statement(variant: str, template: CouponTemplate) -> Callable[[int, str], None]:
    """Send the variant's one statement for a customer (user id, token key), on this thread's connection."""
    if variant == TOKEN_JOIN:
        join = _lookup_for(connection).sql

        def token(user_id: int, key: str) -> None:
            with connection.cursor() as cursor:
                cursor.execute(join, [key])
                cursor.fetchall()

        return token
    procedure = VARIANTS[variant]
    call = f"CALL {procedure}({', '.join(['%s'] * (4 + len(claim_procedure.COLUMNS)))})"

    def claim(user_id: int, key: str) -> None:
        while True:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(call, claim_params(template, user_id))
                    (answer,) = cursor.fetchall()
            except IntegrityError as exc:
                if is_code_collision(exc):
                    continue  # a fresh code, as the claim path does
                raise
            if answer[0] is not None:
                raise SystemExit(f"{variant} refused: {answer}")
            return

    return claim


def server_cpu_per_statement(variant: str, customers: list[tuple[int, str]], threads: int) -> float:
    """µs of the server's CPU per statement, the customers split over ``threads`` connections."""
    template = new_template()
    server = pids_of(names=("mariadbd", "mysqld"))

    def work(part: list[tuple[int, str]]) -> None:
        send = statement(variant, template)
        try:
            for user_id, key in part:
                send(user_id, key)
        finally:
            if threads > 1:
                connection.close()

    parts = [customers[i::threads] for i in range(threads)]
    before = cpu_seconds(server)
    if threads == 1:
        work(parts[0])
    else:
        workers = [threading.Thread(target=work, args=(part,)) for part in parts]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return (cpu_seconds(server) - before) / len(customers) * 1e6


def main() -> None:
    if connection.vendor != "mysql":
        raise SystemExit("this measurement needs MySQL/MariaDB")
    if not pids_of(names=("mariadbd", "mysqld")):
        raise SystemExit("the database server does not run on this machine: its CPU cannot be read")
    user_ids, keys = setup()
    customers = list(zip(user_ids, keys, strict=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@innodb_flush_log_at_trx_commit")
        (flush,) = cursor.fetchone()
    for variant in VARIANTS:  # warm-up: the procedures' parsed bodies, the tables' pages
        server_cpu_per_statement(variant, customers[:50], 1)
    figures: dict[tuple[str, int], list[float]] = {(v, t): [] for v in VARIANTS for t in (1, THREADS)}
    for _ in range(ROUNDS):
        for threads in (1, THREADS):
            for variant in VARIANTS:
                figures[variant, threads].append(server_cpu_per_statement(variant, customers, threads))

    load = os.getloadavg()
    print(
        f"{ROUNDS} alternating rounds of {CALLS} statements per variant; innodb_flush_log_at_trx_commit={flush}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    heading = f"{'server CPU per statement (µs)':36} {'1 connection':>13} {f'{THREADS} connections':>14}"
    print(f"{heading} {'of the claim':>13}")
    claim = statistics.median(figures[CLAIM, THREADS])
    for variant in VARIANTS:
        one, many = (statistics.median(figures[variant, t]) for t in (1, THREADS))
        print(f"{variant:36} {one:13.0f} {many:14.0f} {many / claim:13.2f}")


if __name__ == "__main__":
    main()
