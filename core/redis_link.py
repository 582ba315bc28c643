"""The Redis connection of the claim gate and the attempt counters, with a breaker.

Read ``settings.REDIS_URL`` at call time. After a Redis error the link reports "no Redis" for a few
seconds in this process, so callers fall back to the database instead of waiting on timeouts.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

BREAKER_SECONDS = 5.0
# Connections are opened on demand; the bound only guards against a leak.
MAX_CONNECTIONS = 2048

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()
_broken_until = 0.0


def configured() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


def client() -> redis.Redis | None:
    """The client for the configured URL, or None without Redis or while the breaker is open."""
    if not configured() or time.monotonic() < _broken_until:
        return None
    url = settings.REDIS_URL
    found = _clients.get(url)
    if found is None:
        with _lock:
            found = _clients.get(url)
            if found is None:
                found = redis.Redis.from_url(
                    url, socket_connect_timeout=0.5, socket_timeout=0.5, max_connections=MAX_CONNECTIONS
                )
                _clients[url] = found
    return found


def trip(exc: Exception) -> None:
    global _broken_until
    _broken_until = time.monotonic() + BREAKER_SECONDS
    logger.warning("Redis off for %ss after an error: %s", BREAKER_SECONDS, exc)


def reset() -> None:
    global _broken_until
    _broken_until = 0.0
