"""The client's address: X-Forwarded-For is believed only through TRUSTED_PROXIES, and every
per-address throttle (registration, token, redemption codes) counts by it."""

import itertools

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import RequestFactory
from rest_framework.test import APIClient

from core.clients import address_bucket, client_address
from tests.conftest import client_for
from tests.error_shape import assert_api_error
from tests.factories import UserFactory
from tests.marketing.distribution import run_concurrently

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REDEEM = "/api/v1/redeem-code"
_addresses = itertools.count(1)


def request_from(remote: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def forged() -> str:
    """A new address each call, as a forger would send."""
    n = next(_addresses)
    return f"203.0.{n // 250 % 250}.{n % 250 + 1}"


def set_rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # DRF's throttle history and the attempt counters live in this run's Redis db
    yield
    cache.clear()


# the address ------------------------------------------------------------------------------------


@pytest.mark.parametrize("trusted", ["", "0"])
def test_without_trusted_proxies_the_header_is_ignored(settings, trusted):
    settings.TRUSTED_PROXIES = trusted

    assert client_address(request_from("198.51.100.7", "1.2.3.4")) == "198.51.100.7"
    assert client_address(request_from("198.51.100.7")) == "198.51.100.7"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client's own forged entry is left of the proxy's
        ("1.2.3.4:5678", "1.2.3.4"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("not-an-address", "10.0.0.2"),
        (None, "10.0.0.2"),
    ],
)
def test_one_trusted_proxy_gives_the_address_it_appended(settings, forwarded, expected):
    settings.TRUSTED_PROXIES = "1"

    assert client_address(request_from("10.0.0.2", forwarded)) == expected


def test_two_trusted_proxies_skip_two_hops(settings):
    settings.TRUSTED_PROXIES = "2"

    assert client_address(request_from("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.9")) == "1.2.3.4"


def test_trusted_networks_stop_at_the_first_outside_address(settings):
    settings.TRUSTED_PROXIES = "10.0.0.0/8, 192.168.1.7"

    # from a trusted proxy: right to left past the trusted hops
    assert client_address(request_from("10.0.0.2", "6.6.6.6, 1.2.3.4, 192.168.1.7")) == "1.2.3.4"
    # straight from a client outside the networks: its header is not read
    assert client_address(request_from("198.51.100.7", "1.2.3.4")) == "198.51.100.7"
    # every hop trusted: the leftmost one
    assert client_address(request_from("10.0.0.2", "10.9.9.9")) == "10.9.9.9"


def test_a_bad_trusted_proxies_setting_fails_the_system_check(settings):
    settings.TRUSTED_PROXIES = "10.0.0.0/33"

    with pytest.raises(SystemCheckError, match="TRUSTED_PROXIES"):
        call_command("check")


# the throttles ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "scope"), [(REGISTER, "register"), (TOKEN, "token")])
def test_a_forged_forwarded_header_does_not_lift_the_auth_limits(settings, api_client, path, scope):
    set_rates(settings, **{scope: "3/min"})

    statuses = [
        api_client.post(path, {"username": "x"}, format="json", HTTP_X_FORWARDED_FOR=forged()).status_code
        for _ in range(5)
    ]

    assert statuses == [400, 400, 400, 429, 429]
    response = api_client.post(path, {"username": "x"}, format="json", HTTP_X_FORWARDED_FOR=forged())
    assert_api_error(response, 429, "THROTTLED")
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "scope"), [(REGISTER, "register"), (TOKEN, "token")])
def test_behind_a_trusted_proxy_customers_are_told_apart(settings, api_client, path, scope):
    settings.TRUSTED_PROXIES = "1"
    set_rates(settings, **{scope: "2/min"})
    first, second = forged(), forged()

    def post(address: str, spoof: str = "") -> int:
        header = f"{spoof}, {address}" if spoof else address
        return api_client.post(path, {"username": "x"}, format="json", HTTP_X_FORWARDED_FOR=header).status_code

    # the first customer's own forged entries do not give them a new address
    assert [post(first), post(first, spoof=forged()), post(first, spoof=forged())] == [400, 400, 429]
    assert [post(second), post(second)] == [400, 400]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "scope"), [(REGISTER, "register"), (TOKEN, "token")])
def test_the_addresses_of_one_ipv6_network_share_one_allowance(settings, api_client, path, scope):
    # one connection holds a whole /64: each of its addresses is the same client to the limits
    settings.TRUSTED_PROXIES = "1"
    set_rates(settings, **{scope: "2/min"})

    def post(address: str) -> int:
        return api_client.post(path, {"username": "x"}, format="json", HTTP_X_FORWARDED_FOR=address).status_code

    assert [post("2001:db8:1:2::1"), post("2001:db8:1:2::2"), post("2001:db8:1:2:ffff::3")] == [400, 400, 429]
    assert post("2001:db8:1:3::1") == 400  # the next /64 is another client


def test_address_buckets():
    assert address_bucket("203.0.113.7") == "203.0.113.7"
    assert address_bucket("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64"
    assert address_bucket("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_bucket(None) is None


@pytest.mark.django_db
@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "database"])
def test_the_auth_limits_hold_with_redis_and_without(settings, api_client, with_redis):
    if not with_redis:
        settings.REDIS_URL = ""  # the counts go to the database
    set_rates(settings, register="2/min")

    statuses = [api_client.post(REGISTER, {"username": "x"}, format="json").status_code for _ in range(4)]

    assert statuses == [400, 400, 429, 429]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_cannot_slip_past_the_rate(settings):
    set_rates(settings, token="3/min")

    def attempt(_i: int) -> int:
        return APIClient().post(TOKEN, {"username": "nobody", "password": "x"}, format="json").status_code

    statuses = run_concurrently(attempt, [(i,) for i in range(12)])

    assert sorted(statuses).count(429) == 9, statuses


@pytest.mark.django_db
def test_redemption_attempts_count_per_customer_address_behind_a_proxy(settings):
    settings.TRUSTED_PROXIES = "1"
    set_rates(settings, redeem_user="100/min", redeem_ip="2/min")
    first, second = forged(), forged()
    alice, bob = client_for(UserFactory()), client_for(UserFactory())

    def guess(client, address: str, spoof: str = "") -> int:
        header = f"{spoof}, {address}" if spoof else address
        return client.post(REDEEM, {"code": "WRONGWRONGWRONG1"}, format="json", HTTP_X_FORWARDED_FOR=header).status_code

    assert [guess(alice, first), guess(alice, first, spoof=forged()), guess(alice, first)] == [404, 404, 429]
    # another customer behind the same load balancer has their own count
    assert [guess(bob, second), guess(bob, second)] == [404, 404]


@pytest.mark.django_db
def test_redemption_ignores_a_forged_header_without_trusted_proxies(settings):
    set_rates(settings, redeem_user="100/min", redeem_ip="2/min")
    client = client_for(UserFactory())

    statuses = [
        client.post(REDEEM, {"code": "WRONGWRONGWRONG1"}, format="json", HTTP_X_FORWARDED_FOR=forged()).status_code
        for _ in range(3)
    ]

    assert statuses == [404, 404, 429]
