"""Scheduled jobs of core."""

from core.housekeeping import records_purge_expired
from core.jobs import scheduled_job


@scheduled_job("core.purge_expired_records")
def purge_expired_records() -> dict[str, int]:
    return records_purge_expired()
