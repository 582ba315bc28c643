"""How a webhook is signed, and how a receiver checks it.

The signature is ``sha256=`` and the hex HMAC-SHA256, keyed with the endpoint's secret, of
``"{timestamp}.{body}"``: the ``X-Webhook-Timestamp`` header, a dot and the raw request body. The
timestamp is inside the signature, so a captured request cannot be replayed later with a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"
SCHEME = "sha256="


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(*, secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def verify(*, secret: str, timestamp: str, body: bytes, signature: str, tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches (compared in constant time) and the timestamp is
    within ``tolerance`` seconds of now."""
    try:
        age = abs(time.time() - int(timestamp))
    except (TypeError, ValueError):
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret=secret, timestamp=timestamp, body=body), signature)
