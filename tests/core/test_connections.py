"""Health checks skip the ping on a connection that answered a moment ago, and still replace a dead one.

Requests go through Django's WSGI handler, which (unlike the test client) sends request_started and
request_finished to ``close_old_connections`` as a server does.
"""

import io
import time
from wsgiref.util import setup_testing_defaults

import MySQLdb
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "mysql", reason="the health check pings MySQL/MariaDB"),
]

WALLET = "/api/v1/me/coupons/"


def get(handler: WSGIHandler, path: str, token: str) -> int:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_AUTHORIZATION": f"Token {token}",
        "wsgi.input": io.BytesIO(b""),
    }
    setup_testing_defaults(environ)
    statuses: list[str] = []
    response = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(response)
    response.close()  # request_finished
    return int(statuses[0].split()[0])


@pytest.fixture
def token(db) -> str:
    return Token.objects.create(user=UserFactory()).key


@pytest.fixture
def pings(monkeypatch) -> list[bool]:
    """Every health check the connection runs (the real ``COM_PING``), with its answer."""
    answers: list[bool] = []
    real = connection.is_usable

    def counted() -> bool:
        answers.append(real())
        return answers[-1]

    monkeypatch.setattr(connection, "is_usable", counted)
    return answers


def kill(connection_id: int) -> None:
    settings = connection.settings_dict
    other = MySQLdb.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=int(settings["PORT"] or 3306),
        user=settings["USER"],
        passwd=settings["PASSWORD"] or "",
    )
    try:
        other.cursor().execute(f"KILL {int(connection_id)}")
    finally:
        other.close()


def connection_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        return cursor.fetchone()[0]


def test_the_settings_enable_health_checks_with_a_grace():
    assert connection.settings_dict["ENGINE"] == "core.db_backends.mysql"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert connection.settings_dict["HEALTH_CHECK_GRACE"] == 1.0
    assert connection.settings_dict["CONN_MAX_AGE"] > 0


def test_back_to_back_requests_send_no_ping(token, pings, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "HEALTH_CHECK_GRACE", 5.0)
    handler = WSGIHandler()
    assert get(handler, WALLET, token) == 200
    first_id = connection_id()
    pings.clear()

    statuses = [get(handler, WALLET, token) for _ in range(5)]

    assert statuses == [200] * 5
    assert pings == []
    assert connection_id() == first_id  # the same persistent connection served them all


def test_without_the_grace_every_request_pings(token, pings, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "HEALTH_CHECK_GRACE", 0)
    handler = WSGIHandler()
    assert get(handler, WALLET, token) == 200
    pings.clear()

    statuses = [get(handler, WALLET, token) for _ in range(5)]

    assert statuses == [200] * 5
    assert pings == [True] * 5


def test_a_connection_idle_past_the_grace_is_pinged(token, pings, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "HEALTH_CHECK_GRACE", 0.5)
    handler = WSGIHandler()
    assert get(handler, WALLET, token) == 200
    pings.clear()

    time.sleep(0.7)
    assert get(handler, WALLET, token) == 200
    assert get(handler, WALLET, token) == 200

    assert pings == [True]  # the idle one only; the next request followed within the grace


def test_a_killed_connection_is_replaced_on_the_next_request_after_the_grace(token, pings, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "HEALTH_CHECK_GRACE", 0.5)
    handler = WSGIHandler()
    assert get(handler, WALLET, token) == 200
    killed = connection_id()
    assert get(handler, WALLET, token) == 200  # the id query above counts as use: no ping here
    pings.clear()

    kill(killed)
    time.sleep(0.7)
    status = get(handler, WALLET, token)

    assert status == 200
    assert pings == [False]  # the ping found it dead; Django closed it and connected again
    assert connection_id() != killed


def test_opening_a_cursor_without_a_query_is_not_use(token, pings, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "HEALTH_CHECK_GRACE", 0.5)
    handler = WSGIHandler()
    assert get(handler, WALLET, token) == 200
    time.sleep(0.7)
    pings.clear()

    connection.close_if_unusable_or_obsolete()  # what a new request starts with
    connection.cursor().close()  # the health check runs here, before anything is sent
    connection.close_if_unusable_or_obsolete()
    connection.cursor().close()

    assert pings == [True, True]
