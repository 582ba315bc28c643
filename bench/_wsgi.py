"""Requests through Django's WSGI handler in the measuring process, as gunicorn sends them (middleware,
authentication, ``request_started`` and ``request_finished`` included), and the customers who send them.
Django must be set up before either is called."""

from __future__ import annotations

import io
from typing import Any
from wsgiref.util import setup_testing_defaults


def post(handler: Any, path: str, token: str, *, idempotency_key: str | None = None) -> str:
    """POST ``path`` with no body as the token's customer; the answer's status line."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "HTTP_AUTHORIZATION": f"Token {token}",
        "wsgi.input": io.BytesIO(b""),
        "CONTENT_LENGTH": "0",
    }
    if idempotency_key is not None:
        environ["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    setup_testing_defaults(environ)
    statuses: list[str] = []
    response = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(response)
    response.close()
    return statuses[0]


def customers_with_tokens(prefix: str, count: int) -> list[str]:
    """``count`` new customers named ``prefix`` and a number, each with an API token; their tokens."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user_model = get_user_model()
    user_model.objects.bulk_create([user_model(username=f"{prefix}{i}") for i in range(count)], batch_size=2000)
    users = user_model.objects.filter(username__startswith=prefix).order_by("pk")
    Token.objects.bulk_create([Token(user=user, key=Token.generate_key()) for user in users], batch_size=2000)
    return list(
        Token.objects.filter(user__username__startswith=prefix).order_by("user_id").values_list("key", flat=True)
    )
