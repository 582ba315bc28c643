"""The one application error family. The API exception handler renders it as the spec's error shape."""

from typing import Any


class ApplicationError(Exception):
    """A refusal the client can understand: a code, a message, details and an HTTP status."""

    status_code = 400
    default_code = "INVALID"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = str(message)
        self.code = code or self.default_code
        self.details = details or {}


class ValidationFailed(ApplicationError):
    status_code = 400
    default_code = "VALIDATION_ERROR"


class NotFound(ApplicationError):
    status_code = 404
    default_code = "NOT_FOUND"


class PermissionDeniedError(ApplicationError):
    status_code = 403
    default_code = "PERMISSION_DENIED"


class Conflict(ApplicationError):
    """The request is well formed but the current state refuses it (409)."""

    status_code = 409
    default_code = "CONFLICT"


class InvalidTransition(Conflict):
    default_code = "INVALID_STATE"


class IdempotencyMismatch(ApplicationError):
    status_code = 422
    default_code = "IDEMPOTENCY_KEY_REUSED"


class TooManyRequests(ApplicationError):
    status_code = 429
    default_code = "THROTTLED"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        # Seconds until the client may try again: sent as the ``Retry-After`` header.
        self.retry_after = retry_after
