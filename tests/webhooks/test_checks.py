"""The system check that keeps a live send from looking abandoned."""

import pytest
from django.core.checks.registry import registry

from webhooks.checks import claim_timeout_check


def test_the_check_runs_with_the_others():
    assert claim_timeout_check in registry.get_checks()


@pytest.mark.parametrize(
    ("timeout", "claim_timeout", "warned"),
    [(5, 60, False), (5, 20, False), (5, 19, True), (30, 60, True), (60, 60, True)],
)
def test_a_claim_timeout_too_close_to_the_request_timeout_is_warned_of(settings, timeout, claim_timeout, warned):
    settings.WEBHOOK_TIMEOUT_SECONDS = timeout
    settings.WEBHOOK_CLAIM_TIMEOUT = claim_timeout

    found = claim_timeout_check()

    assert [message.id for message in found] == (["webhooks.W001"] if warned else [])
    if warned:
        assert f"at least {2 * timeout + 10}" in found[0].hint
