"""Database helpers: retrying a transaction on deadlocks and lock-wait timeouts."""

import functools
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, transaction
from django.db.utils import DatabaseError

P = ParamSpec("P")
R = TypeVar("R")

# MariaDB/MySQL: 1213 deadlock, 1205 lock wait timeout, 1020 "record has changed since last read".
RETRYABLE_MYSQL_ERRORS = {1213, 1205, 1020}
MAX_ATTEMPTS = 8


def is_retryable(exc: BaseException) -> bool:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int) and args[0] in RETRYABLE_MYSQL_ERRORS:
        return True
    # SQLite under concurrent writers.
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


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
