"""Schemathesis against a live server: every operation of ``/api/schema/``, as a customer and as staff.

The run uses schemathesis' default phases (examples, coverage, fuzzing, stateful) and default checks:
no 5xx, every status code, content type and body as documented, schema-violating input refused and
schema-valid input accepted. Two statuses are not failures of "valid input accepted", because a schema
cannot state the rule behind them:

- 422 ``IDEMPOTENCY_KEY_REUSED``: a key is valid or not depending on the earlier requests sent with it;
- 400 on the operations below, whose input is checked against stored state or rules between fields
  (a dish on the menu, a username not taken, a password not too common, a coupon rule of its type).
"""

import os
import time

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from schemathesis.engine import events, from_schema
from schemathesis.engine.statistic import Statistic

pytestmark = [pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_MAX_EXAMPLES", "10"))
SEED = int(os.environ.get("SCHEMA_FUZZ_SEED", "20261129"))

ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
CHECKED_AGAINST_STATE = [
    "/api/v1/auth/register",
    "/api/v1/auth/token",
    "/api/v1/checkout/preview",
    "/api/v1/orders/",
]


def _config(token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 2,
            "headers": {"Authorization": f"Token {token}"},
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
            "operations": [
                {
                    "include-path": CHECKED_AGAINST_STATE,
                    "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
                },
            ],
        }
    )


def _run(url: str, token: str) -> tuple[Statistic, list[str]]:
    schema = schemathesis.openapi.from_url(f"{url}/api/schema/", config=_config(token))
    statistic = Statistic()
    errors: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            statistic.on_scenario_finished(event.recorder)
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            errors.append(repr(event.exception))
    return statistic, errors


def _report(role: str, statistic: Statistic, errors: list[str], seconds: float) -> str:
    lines = [
        f"{role}: {len(statistic.tested_operations)} operations, {statistic.total_cases} cases, "
        f"{statistic.total_failures} failures, {len(errors)} errors in {seconds:.0f} s (seed {SEED})"
    ]
    for label, groups in sorted(statistic.failures.items()):
        for group in groups.values():
            for failure in group.failures:
                lines.append(f"- {label}: {failure.title}\n  {failure.message}".replace("\n", "\n  "))
            if group.code_sample:
                lines.append(f"  {group.code_sample}")
    lines += [f"- error: {error}" for error in errors]
    return "\n".join(lines)


@pytest.fixture
def seeded(live_server):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    users = get_user_model().objects
    return {
        "customer": Token.objects.get_or_create(user=users.get(username="demo"))[0].key,
        "staff": Token.objects.get_or_create(user=users.get(username="admin"))[0].key,
    }


@pytest.mark.parametrize("role", ["customer", "staff"])
def test_the_api_answers_as_its_schema_says(live_server, seeded, role, capsys):
    # given a live server with the demo data (menu, templates in every status, an activity, orders)
    started = time.monotonic()

    # when schemathesis runs every phase against it with this role's token
    statistic, errors = _run(live_server.url, seeded[role])

    # then every operation was tested and nothing failed
    report = _report(role, statistic, errors, time.monotonic() - started)
    with capsys.disabled():
        print("\n" + report.splitlines()[0])
    assert statistic.total_cases > 0
    assert not errors and statistic.total_failures == 0, report
