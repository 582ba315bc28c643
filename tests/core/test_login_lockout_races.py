"""Sign-in lockout under concurrency: a burst of guesses gets no more password checks than the limit
allows, and a correct sign-in racing failures of the same account never answers 500."""

import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditLog, ThrottleCounter
from tests.factories import StaffFactory, UserFactory
from tests.marketing.distribution import run_concurrently

LOGIN = "/admin/login/?next=/admin/"
TOKEN = "/api/v1/auth/token"
RIGHT = "pass-1234"


class SlowCountingHasher(MD5PasswordHasher):
    """Takes as long as production's PBKDF2 under load, so a burst is in flight at once; counts its checks."""

    algorithm = "slow_counting_md5"
    checks = 0
    _lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with self._lock:
            SlowCountingHasher.checks += 1
        time.sleep(1)
        return super().verify(password, encoded)


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_LOCKOUT_FAILURES = 3
    settings.LOGIN_LOCKOUT_ADDRESS_FAILURES = 1000
    settings.LOGIN_LOCKOUT_WINDOW = 900
    settings.LOGIN_LOCKOUT_SECONDS = 600
    # every request of a burst comes from 127.0.0.1: the token endpoint's own rate is not under test
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "token": "10000/min"},
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def slow_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.SlowCountingHasher"]
    SlowCountingHasher.checks = 0
    yield SlowCountingHasher


def sign_in(via: str, username: str, password: str, after_checks: int = 0) -> tuple[int, bool]:
    """(status, signed in) of one sign-in through admin's login form or /auth/token, sent once
    ``after_checks`` passwords are being checked (``SlowCountingHasher``)."""
    deadline = time.monotonic() + 10
    while SlowCountingHasher.checks < after_checks and time.monotonic() < deadline:
        time.sleep(0.01)
    if via == "admin":
        client = Client(raise_request_exception=False)
        response = client.post(LOGIN, {"username": username, "password": password})
        return response.status_code, response.status_code == 302 and response["Location"] == "/admin/"
    api = APIClient(raise_request_exception=False)
    response = api.post(TOKEN, {"username": username, "password": password}, format="json")
    return response.status_code, response.status_code == 200 and "token" in response.json()


def audit(action: str) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action).order_by("id"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("via", ["admin", "token"])
def test_a_burst_of_guesses_checks_no_more_passwords_than_the_limit(via, slow_hasher):
    # given
    StaffFactory(username="ops-li")
    slow_hasher.checks = 0
    # when: 30 wrong passwords at once, and the right one while the first three are being checked
    burst = [(via, "ops-li", f"wrong-{i}") for i in range(30)] + [(via, "ops-li", RIGHT, 3)]
    results = run_concurrently(sign_in, burst)

    # then
    assert not any(isinstance(result, BaseException) for result in results), results
    *guesses, (right_status, right_signed_in) = results
    assert slow_hasher.checks == 3
    assert len(audit("login_failed")) == 3
    assert len(audit("login_locked")) == 1
    assert not right_signed_in
    refused = 200 if via == "admin" else 429
    assert right_status == refused
    wrong = 200 if via == "admin" else 400
    assert sorted(status for status, _signed_in in guesses) == sorted([wrong] * 3 + [refused] * 27)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("via", ["admin", "token"])
def test_a_burst_across_usernames_checks_no_more_than_the_address_limit(via, settings, slow_hasher):
    # given
    settings.LOGIN_LOCKOUT_FAILURES = 1000
    settings.LOGIN_LOCKOUT_ADDRESS_FAILURES = 3
    StaffFactory(username="finance-wang")
    StaffFactory(username="ops-li")
    slow_hasher.checks = 0

    # when: two accounts' wrong passwords from one address, and a right one while the first three are checked
    names = ["finance-wang", "ops-li"]
    burst = [(via, names[i % 2], f"wrong-{i}") for i in range(30)] + [(via, "finance-wang", RIGHT, 3)]
    results = run_concurrently(sign_in, burst)

    # then
    assert not any(isinstance(result, BaseException) for result in results), results
    assert slow_hasher.checks == 3
    assert len(audit("login_failed")) == 3
    assert [row.data["scope"] for row in audit("login_locked")] == ["address"]
    assert not results[-1][1]


@pytest.mark.django_db(transaction=True)
def test_the_right_password_signs_in_after_a_burst_at_the_limit_once_the_lockout_ends(slow_hasher):
    # given: a burst that used every slot and locked the account
    StaffFactory(username="ops-li")
    run_concurrently(sign_in, [("admin", "ops-li", f"wrong-{i}") for i in range(10)])
    assert len(audit("login_locked")) == 1
    assert sign_in("admin", "ops-li", RIGHT) == (200, False)

    # when the lockout is over
    ThrottleCounter.objects.filter(key__startswith="login:lock:").update(
        window_start=timezone.now() - timedelta(hours=1)
    )

    # then one attempt at a time may try: the right password signs in
    assert sign_in("admin", "ops-li", RIGHT) == (302, True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_sign_ins_racing_failures_of_the_same_account_never_answer_500(round_, settings):
    # given: limits high enough that nobody is locked out
    settings.LOGIN_LOCKOUT_FAILURES = 1000
    StaffFactory(username="ops-li")
    kinds = [("admin", RIGHT), ("admin", "wrong"), ("token", RIGHT), ("token", "wrong")]
    burst = [(via, "ops-li", password) for i in range(30) for via, password in [kinds[i % 4]]]

    # when
    results = run_concurrently(sign_in, burst)

    # then: every right password signed in, every wrong one was refused, and nothing failed
    assert not any(isinstance(result, BaseException) for result in results), results
    answers = {
        (via, password, status, signed_in)
        for (via, _name, password), (status, signed_in) in zip(burst, results, strict=True)
    }
    assert answers == {
        ("admin", RIGHT, 302, True),
        ("admin", "wrong", 200, False),
        ("token", RIGHT, 200, True),
        ("token", "wrong", 400, False),
    }


@pytest.mark.django_db
def test_a_right_password_admin_refuses_gives_its_slot_back():
    # given: a customer, who may not use admin
    UserFactory(username="xiaoming")

    # when: more right passwords than the limit
    answers = [Client().post(LOGIN, {"username": "xiaoming", "password": RIGHT}) for _ in range(5)]

    # then: each is refused as not staff, none as locked out, and nothing is counted
    assert [response.status_code for response in answers] == [200] * 5
    assert all("Too many failed sign-ins" not in response.content.decode() for response in answers)
    assert "Please enter the correct username and password" in answers[-1].content.decode()
    assert not ThrottleCounter.objects.filter(key__startswith="login:try:", count__gt=0).exists()
    assert audit("login_failed") == []


@pytest.mark.django_db
def test_a_token_sign_in_gives_its_slot_back_and_clears_the_failures(api_client):
    # given: two wrong passwords counted (the limit is 3)
    UserFactory(username="xiaoming")

    def token(password: str) -> int:
        return api_client.post(TOKEN, {"username": "xiaoming", "password": password}, format="json").status_code

    assert [token("wrong-1"), token("wrong-2")] == [400, 400]

    # when: the right password, again and again
    answers = [token(RIGHT) for _ in range(6)]

    # then: each signs in (its slot given back), and the count starts afresh: three more guesses are checked
    assert answers == [200] * 6
    assert not ThrottleCounter.objects.filter(key__startswith="login:try:", count__gt=0).exists()
    assert [token(f"again-{i}") for i in range(3)] == [400, 400, 400]


@pytest.mark.django_db
def test_a_token_request_refused_before_any_password_is_checked_gives_its_slot_back(api_client):
    UserFactory(username="xiaoming")

    answers = [api_client.post(TOKEN, {"username": "xiaoming"}, format="json").status_code for _ in range(6)]

    assert answers == [400] * 6  # the field missing each time, never a lockout
    assert api_client.post(TOKEN, {"username": "xiaoming", "password": RIGHT}, format="json").status_code == 200
