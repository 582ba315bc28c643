"""Shared benchmark helpers: a bench database, a gunicorn server, a keep-alive HTTP load generator (closed
or open loop, two workloads in alternating slices) and per-schema row counters. Imported by the
benchmarks under bench/ (not part of the tests)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# The README's production web server: two gthread processes per core, each with four threads (a claim
# spends part of its time waiting for its commit to reach the disk; other threads use the core meanwhile).
WORKERS = int(os.environ.get("BENCH_WORKERS", 2 * (os.cpu_count() or 1)))
THREADS = int(os.environ.get("BENCH_THREADS", 4))


def bench_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of the bench server and of this process (production settings, over HTTP)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-only-not-secret-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "BENCH_NOOP": "true",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    os.environ.update(env)
    return env


def create_database(database_url: str) -> None:
    import environ
    import MySQLdb

    config = environ.Env.db_url_config(database_url)
    server = MySQLdb.connect(
        host=config["HOST"] or "127.0.0.1",
        port=int(config["PORT"] or 3306),
        user=config["USER"],
        passwd=config["PASSWORD"] or "",
    )
    try:
        server.cursor().execute(
            f"CREATE DATABASE IF NOT EXISTS `{config['NAME']}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    finally:
        server.close()


def migrate(env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(env: dict[str, str], *, workers: int, threads: int, port: int) -> Iterator[str]:
    """Run the project under gunicorn (gthread workers: keep-alive) and yield its base URL."""
    command = [
        PYTHON, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--worker-class", "gthread",
        "--workers", str(workers),
        "--threads", str(threads),
        "--keep-alive", "75",
        "--backlog", "2048",
        "--log-level", "warning",
        "--worker-connections", "1000",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError("gunicorn exited at start")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# Load generation --------------------------------------------------------------------------------


@dataclass
class Result:
    statuses: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu: Counter = field(default_factory=Counter)  # CPU seconds by process group (``CpuMeter``)

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def p(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


# A request: (method, path, token), optionally followed by a JSON body (bytes) and extra headers.
Request = tuple


async def _client(
    port: int,
    next_request: Callable[[], Request | None],
    result: Result,
    stop_at: float | None,
    keep_codes: bool,
    schedule: tuple[float, float] | None = None,
) -> None:
    """One keep-alive connection sending requests one after another (closed loop), or with ``schedule``
    (first send time, interval) at fixed times whatever the answers take (open loop): a request's
    latency then counts from the time it was due, so a server falling behind shows in it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    due = schedule[0] if schedule else 0.0
    try:
        while stop_at is None or time.perf_counter() < stop_at:
            if schedule:
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                if stop_at is not None and due >= stop_at:
                    return
            request = next_request()
            if request is None:
                return
            method, path, token = request[:3]
            body: bytes = request[3] if len(request) > 3 else b""
            extra = "".join(f"{k}: {v}\r\n" for k, v in (request[4] if len(request) > 4 else {}).items())
            content_type = "Content-Type: application/json\r\n" if body else ""
            started = due if schedule else time.perf_counter()
            writer.write(
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n{extra}"
                f"{content_type}Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            answer = await reader.readexactly(length) if length else b""
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] += 1
            if keep_codes and status >= 400:
                code = answer.split(b'"code":"', 1)[-1].split(b'"', 1)[0].decode() if b'"code":"' in answer else "?"
                result.codes[code] += 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            if schedule:
                due += schedule[1]
    finally:
        writer.close()


def load(
    port: int,
    requests: Callable[[], Request | None],
    *,
    concurrency: int,
    duration: float | None = None,
    keep_codes: bool = False,
    rate: float | None = None,
) -> Result:
    """``concurrency`` keep-alive connections send requests from ``requests`` (until it returns None,
    or for ``duration`` seconds). With ``rate`` (requests/s in all) the connections send open loop at
    that rate, each in turn, and latencies count from when each request was due."""

    async def main() -> Result:
        result = Result()
        started = time.perf_counter()
        stop_at = started + duration if duration else None
        schedules: list[tuple[float, float] | None] = [None] * concurrency
        if rate:
            interval = concurrency / rate
            schedules = [(started + 0.05 + i / rate, interval) for i in range(concurrency)]
        await asyncio.gather(
            *(_client(port, requests, result, stop_at, keep_codes, schedules[i]) for i in range(concurrency))
        )
        result.elapsed = time.perf_counter() - started
        return result

    return asyncio.run(main())


def from_list(requests: list[Request]) -> Callable[[], Request | None]:
    """The requests in turn, each once."""
    feed = iter(requests)
    return lambda: next(feed, None)


def cycling(requests: list[Request]) -> Callable[[], Request | None]:
    """The requests in turn, round and round."""
    feed = itertools.cycle(requests)
    return lambda: next(feed)


def merge(total: Result, part: Result) -> None:
    total.statuses.update(part.statuses)
    total.codes.update(part.codes)
    total.latencies += part.latencies
    total.elapsed += part.elapsed
    total.cpu.update(part.cpu)


def paired(
    port: int,
    a: tuple,
    b: tuple,
    duration: float,
    slices: int = 5,
    rate: float | None = None,
    meter: CpuMeter | None = None,
) -> tuple[Result, Result]:
    """Measure two workloads ``(make_source, concurrency)`` in alternating slices (A B A B ...), so
    that a burst of load from elsewhere on the machine hits both alike. ``duration`` is each side's
    total; with ``rate`` both run open loop at that rate; with ``meter`` each side's results hold the
    CPU its slices cost each group of processes."""
    results = (Result(), Result())
    sources = (a[0](), b[0]())
    for _ in range(slices):
        for index, (_make, concurrency) in enumerate((a, b)):
            before = meter.read() if meter else {}
            part = load(
                port, sources[index], concurrency=concurrency, duration=duration / slices, keep_codes=True,
                rate=rate,
            )  # fmt: skip
            if meter:
                part.cpu.update({name: spent - before[name] for name, spent in meter.read().items()})
            merge(results[index], part)
    return results


# What each process spent -------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def pids_of(*, argument: str = "", names: tuple[str, ...] = ()) -> list[int]:
    """The processes with ``argument`` among their command-line arguments, or named one of ``names``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/comm") as comm, open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                name, arguments = comm.read().strip(), cmdline.read().split(b"\0")
        except OSError:
            continue
        if name in names or (argument and argument.encode() in arguments):
            found.append(int(entry.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used, all their threads (a process gone counts 0)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / _TICKS


@dataclass
class CpuMeter:
    """CPU seconds of named groups of processes (the web server, the database server, the load client)."""

    groups: dict[str, list[int]]

    def read(self) -> dict[str, float]:
        return {name: cpu_seconds(pids) for name, pids in self.groups.items()}

    @classmethod
    def for_server(cls, port: int) -> CpuMeter:
        """gunicorn on ``port`` (master and workers), a MariaDB/MySQL server on this machine when there is
        one, and this process (the load client)."""
        groups = {"web": pids_of(argument=f"127.0.0.1:{port}")}
        database = pids_of(names=("mariadbd", "mysqld"))
        if database:
            groups["MariaDB"] = database
        groups["load client"] = [os.getpid()]
        return cls(groups)

    @staticmethod
    def per_request(result: Result) -> dict[str, float]:
        """Milliseconds of CPU per answered request, by group."""
        return {name: spent / result.count * 1000 for name, spent in result.cpu.items()} if result.count else {}


# What the database did ---------------------------------------------------------------------------


@contextlib.contextmanager
def table_statistics(cursor) -> Iterator[None]:
    """Turn on MariaDB's per-table statistics (userstat) for the duration, then restore it."""
    cursor.execute("SELECT @@GLOBAL.userstat")
    (before,) = cursor.fetchone()
    cursor.execute("SET GLOBAL userstat = 1")
    try:
        yield
    finally:
        cursor.execute(f"SET GLOBAL userstat = {int(before)}")


def rows_by_table(cursor, schema: str) -> dict[str, tuple[int, int]]:
    """(rows read, rows changed) per table of ``schema``, cumulative since the server started."""
    cursor.execute(
        "SELECT TABLE_NAME, ROWS_READ, ROWS_CHANGED FROM information_schema.TABLE_STATISTICS WHERE TABLE_SCHEMA = %s",
        [schema],
    )
    return {name: (int(read), int(changed)) for name, read, changed in cursor.fetchall()}


def rows_delta(after: dict[str, tuple[int, int]], before: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    delta = {}
    for table, (read, changed) in after.items():
        old_read, old_changed = before.get(table, (0, 0))
        if read - old_read or changed - old_changed:
            delta[table] = (read - old_read, changed - old_changed)
    return delta


def truncate(cursor, tables: list[str]) -> None:
    """Empty the bench's own ``tables`` (foreign keys unchecked meanwhile): no rows left for the purge."""
    cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
    try:
        for table in tables:
            cursor.execute(f"TRUNCATE TABLE {table}")
    finally:
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def purged(cursor, *, backlog: int = 1_000, timeout: float = 120.0) -> int:
    """Wait until InnoDB's purge has caught up with the deletes before a measurement (the history list
    under ``backlog``, or ``timeout`` seconds); returns the history list length left. Purging an earlier
    run's rows takes a core meanwhile, and it falls on whichever side happens to run then."""
    deadline = time.monotonic() + timeout
    while True:
        cursor.execute("SELECT `count` FROM information_schema.INNODB_METRICS WHERE name = 'trx_rseg_history_len'")
        row = cursor.fetchone()
        left = int(row[0]) if row else 0
        if left < backlog or time.monotonic() > deadline:
            return left
        time.sleep(0.5)
