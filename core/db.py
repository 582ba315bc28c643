"""Database helpers: retrying a transaction on deadlocks and lock-wait timeouts."""

import contextlib
import functools
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection, transaction
from django.db.utils import DatabaseError, InterfaceError

P = ParamSpec("P")
R = TypeVar("R")

# MariaDB/MySQL: 1213 deadlock, 1205 lock wait timeout, 1020 "record has changed since last read".
RETRYABLE_MYSQL_ERRORS = {1213, 1205, 1020}
MAX_ATTEMPTS = 8
# MariaDB/MySQL: the connection is gone (server gone away, lost mid-query, killed, could not connect,
# shutting down); nothing of the transaction that was open on it is committed.
CONNECTION_LOST_MYSQL_ERRORS = {2002, 2003, 2006, 2013, 2055, 4031, 1927, 1053}


def is_retryable(exc: BaseException) -> bool:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int) and args[0] in RETRYABLE_MYSQL_ERRORS:
        return True
    # SQLite under concurrent writers.
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def is_connection_lost(exc: BaseException) -> bool:
    """The database connection died under the statement (not a refusal of the statement itself)."""
    if isinstance(exc, InterfaceError):
        return True  # a closed connection object
    if not isinstance(exc, OperationalError) or not exc.args:
        return False
    code = exc.args[0]
    return isinstance(code, int) and code in CONNECTION_LOST_MYSQL_ERRORS


def retry_on_conflict(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` in its own atomic block, retried on deadlock-class errors.

    Only valid at the outermost level: inside an enclosing transaction the whole transaction was
    rolled back by the server, so a retry must start over from the top.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                return func(*args, **kwargs)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    return func(*args, **kwargs)
            except DatabaseError as exc:
                if attempt == MAX_ATTEMPTS or not is_retryable(exc):
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    return wrapper


AfterCommit = list[Callable[[], None]]


def plain_transaction(func: Callable[[AfterCommit], R]) -> R:
    """Run ``func`` between ``START TRANSACTION`` and ``COMMIT`` on a connection Django keeps in
    autocommit mode, retried on deadlock-class errors; the callables ``func`` appends to the list it is
    given run after the commit.

    Two round trips of transaction control where ``atomic`` takes three (SET autocommit=0, COMMIT,
    SET autocommit=1): for a hot path of a few plain cursor statements on MySQL/MariaDB. Nothing inside
    may use ``atomic``, a savepoint or ``on_commit`` (Django does not know the transaction is open).
    """
    if connection.in_atomic_block:
        raise RuntimeError("plain_transaction cannot run inside atomic()")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        after_commit: AfterCommit = []
        try:
            with connection.cursor() as cursor:
                cursor.execute("START TRANSACTION")
                try:
                    result = func(after_commit)
                except BaseException:
                    with contextlib.suppress(DatabaseError):  # a deadlock has rolled it back already
                        cursor.execute("ROLLBACK")
                    raise
                cursor.execute("COMMIT")
        except DatabaseError as exc:
            if attempt == MAX_ATTEMPTS or not is_retryable(exc):
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
            continue
        for callback in after_commit:
            callback()
        return result
    raise AssertionError("unreachable")
