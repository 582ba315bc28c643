"""Middleware of the API paths: the error shape on every error answer, and requests that survive a lost
database connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from core.api.views import error_for_status, is_api
from core.db import is_connection_lost

# Seconds a client is asked to wait after a 503 for a lost database connection.
RETRY_AFTER_SECONDS = 1

# Statements that change no data. Anything else is taken as a write.
_READ_VERBS = frozenset({"SELECT", "SHOW", "SET", "EXPLAIN", "DESCRIBE", "SAVEPOINT", "RELEASE", "ROLLBACK", "START"})


class ApiErrorShapeMiddleware:
    """An error answer under ``/api/`` that is not JSON (Django's technical 404 page with ``DEBUG``, a CSRF
    refusal, a 400 for a body Django refused) is replaced by the error shape of its status.

    Placed before ``CommonMiddleware``, so its ``APPEND_SLASH`` redirects pass untouched.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api(request)
            and not response.streaming
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            replacement = JsonResponse(error_for_status(response.status_code), status=response.status_code)
            for header in ("Retry-After", "Allow", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response


class ApiTrailingSlashMiddleware:
    """A request to an API path that names a collection without its trailing slash (``POST /api/v1/orders``)
    reaches the view as ``/api/v1/orders/``: ``CommonMiddleware`` would answer it with a redirect, which
    clients follow with a GET, losing the body of a POST.

    Placed after ``CommonMiddleware`` (inside it), so it sees the 404 first; only a path that resolves to no
    view is looked at again, so no request that reached a view runs twice, and no other request pays.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 404 or not is_api(request) or request.path_info.endswith("/"):
            return response
        urlconf = getattr(request, "urlconf", None)
        try:
            resolve(request.path_info, urlconf)
        except Resolver404:
            try:
                resolve(request.path_info + "/", urlconf)
            except Resolver404:
                return response
            request.path_info += "/"
            request.path += "/"
            return self.get_response(request)
        return response  # a view answered 404 itself


class WriteWatch:
    """Watches the statements of one request on the default connection: could anything it wrote be
    committed already? (Then running the request again could do its work twice.)

    A write in autocommit mode and a ``COMMIT`` count as committed once sent; writes inside ``atomic``
    count once its commit succeeded; writes inside a plain ``START TRANSACTION`` are pending until its
    ``COMMIT``. A lost connection under a statement leaves pending writes uncommitted (the server rolls
    the transaction back); one lost under Django's own commit may or may not have committed them.
    """

    def __init__(self) -> None:
        self.committed = False
        self.pending = False
        self.lost_under_statement = False
        self._plain = False

    def _mark_committed(self) -> None:
        self.committed = True

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        verb = sql.lstrip()[:12].split(None, 1)[0].upper() if sql and sql.strip() else ""
        db = context["connection"]
        if verb in ("START", "BEGIN"):
            self._plain = True
        elif verb == "COMMIT":
            self.committed = True
            self._plain = False
        elif verb == "ROLLBACK" and "TO" not in sql.upper().split()[1:3]:
            self._plain = False
        elif verb not in _READ_VERBS:
            if db.in_atomic_block:
                self.pending = True
                if not any(entry[1] == self._mark_committed for entry in db.run_on_commit):
                    transaction.on_commit(self._mark_committed, using=db.alias)
            elif self._plain:
                self.pending = True
            else:
                self.committed = True
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            if is_connection_lost(exc):
                self.lost_under_statement = True
            raise

    def safe_to_repeat(self) -> bool:
        return not self.committed and (not self.pending or self.lost_under_statement)


def _replayable(request: HttpRequest) -> bool:
    """The body can be kept in memory (a larger upload streams to files, read once)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return limit is None or length <= limit


def service_unavailable() -> JsonResponse:
    response = JsonResponse(error_for_status(503), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseLossMiddleware:
    """A request under ``/api/`` whose database connection dies (server gone away, lost mid-query,
    killed) is run once more on a fresh connection when nothing it wrote can have been committed, and
    answers 503 with ``Retry-After`` otherwise; never a bare 500.

    The body is read into memory before the view (when within ``DATA_UPLOAD_MAX_MEMORY_SIZE``), so the
    view can parse it again.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api(request):
            return self.get_response(request)
        watch = WriteWatch()
        request._write_watch = watch  # type: ignore[attr-defined]
        with connection.execute_wrapper(watch):
            return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> None:
        if is_api(request) and request.method not in ("GET", "HEAD", "OPTIONS") and _replayable(request):
            request.body  # noqa: B018  (kept, so the view can read it a second time)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        watch: WriteWatch | None = getattr(request, "_write_watch", None)
        if watch is None or not is_connection_lost(exception):
            return None
        connection.close()
        if not (watch.safe_to_repeat() and _replayable(request) and request.resolver_match is not None):
            return service_unavailable()
        again = WriteWatch()
        request._write_watch = again  # type: ignore[attr-defined]
        match = request.resolver_match
        try:
            with connection.execute_wrapper(again):
                return match.func(request, *match.args, **match.kwargs)
        except Exception as exc:
            if not is_connection_lost(exc):
                raise
            connection.close()
            return service_unavailable()
