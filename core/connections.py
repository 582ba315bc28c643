"""Connection health checks that skip the ping when the connection answered a moment ago.

With ``CONN_HEALTH_CHECKS`` Django pings the server (``COM_PING``) before the first query of every
request on a persistent connection: one round trip per request, 7.5 % of a claim's time under load.
A connection that completed a round trip less than ``HEALTH_CHECK_GRACE`` seconds ago (a key of the
database's settings; 0 turns the skip off) is taken as healthy without the ping. Older than that, the
ping runs as before and a dead connection is replaced before the request's first query. A connection
that dies inside the window fails that request's query; the error marks it (``errors_occurred``) and
Django pings and closes it when the request ends, so the next request reconnects.
"""

import time
from functools import cached_property
from typing import Any

from django.db.utils import DatabaseErrorWrapper


class _RoundTripStamp(DatabaseErrorWrapper):
    """Django's error translation, also noting when a database call came back without an error."""

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_type is None:
            self.wrapper.last_round_trip_at = time.monotonic()
            return None
        return super().__exit__(exc_type, exc_value, traceback)


class RecentUseHealthCheck:
    """Mixin for a database wrapper class (before the backend's ``DatabaseWrapper`` in the bases)."""

    # Set on the database wrapper; declared here for the type checker.
    connection: Any
    health_check_enabled: bool
    health_check_done: bool
    settings_dict: dict[str, Any]

    last_round_trip_at = float("-inf")

    @cached_property
    def wrap_database_errors(self) -> DatabaseErrorWrapper:
        return _RoundTripStamp(self)

    def _cursor(self, name=None):
        # Opening a cursor sends nothing to the server: it must not count as a round trip.
        stamp = self.last_round_trip_at
        cursor = super()._cursor(name)  # type: ignore[misc]
        self.last_round_trip_at = stamp
        return cursor

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and time.monotonic() - self.last_round_trip_at < self.settings_dict.get("HEALTH_CHECK_GRACE", 0)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()  # type: ignore[misc]
