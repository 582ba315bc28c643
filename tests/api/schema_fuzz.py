"""One schemathesis run against a live server, as one user (no Django here: it runs in its own process).

The run uses schemathesis' default phases (examples, coverage, fuzzing, stateful) and default checks:
no 5xx, every status code, content type, header and body as documented, schema-violating input refused
and schema-valid input accepted. Two statuses are not failures of "valid input accepted", because a
schema cannot state the rule behind them:

- 422 ``IDEMPOTENCY_KEY_REUSED``: a key is valid or not depending on the earlier requests sent with it;
- 400 on the operations below, whose input is checked against stored state or rules between fields.

And 414 (URI too long) counts as refusing schema-violating input: gunicorn answers it, documented.

Each role runs in a process of its own with one schemathesis worker: CPython 3.11's ``ast`` module is
not thread-safe, and Hypothesis parses sources when it describes filtered strategies.
"""

import time
from dataclasses import dataclass

import schemathesis
from schemathesis.engine import events, from_schema
from schemathesis.engine.statistic import Statistic

ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
# schemathesis' own list, and 414: gunicorn refuses an overlong request line before the application.
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "428", "429", "5xx"]
CHECKED_AGAINST_STATE = [
    "/api/v1/auth/register",  # username taken, password too common or too like the username
    "/api/v1/auth/token",  # wrong password
    "/api/v1/checkout/preview",  # dishes on the menu, cart limits
    "/api/v1/orders/",
    "/api/v1/staff/templates/",  # the rule registry: value and usage_rules per coupon type, dates in order
    "/api/v1/staff/templates/{id}",
    "/api/v1/staff/bulk-grants/",  # a template or a gift pack, a segment or a user list per target type
    "/api/v1/staff/code-batches/",  # expiry in the future
    "/api/v1/staff/products/",  # the category exists
    "/api/v1/staff/products/{sku}",
    "/api/v1/staff/webhook-endpoints/",  # a URL Django's URLValidator takes (a host name a pattern cannot state)
    "/api/v1/staff/webhook-endpoints/{id}",
]


@dataclass
class Outcome:
    operations: int
    cases: int
    failures: int
    errors: int
    seconds: float
    report: str


def config(token: str, *, seed: int, max_examples: int) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            "cache": {"enabled": False},  # each run stands alone: nothing learnt from earlier runs or kept
            "workers": 1,
            "request-timeout": 60,  # a batch of 100,000 redemption codes is written in the request
            "headers": {"Authorization": f"Token {token}"},
            "generation": {"max-examples": max_examples, "database": "none"},
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ACCEPTED},
                "negative_data_rejection": {"expected-statuses": REFUSED},
            },
            "operations": [
                {
                    # DELETE deactivates a dish or a category (the POS keeps syncing it by code), so it is
                    # still there afterwards, inactive: not the "deleted resource" this check looks for.
                    "include-path": ["/api/v1/staff/products/{sku}", "/api/v1/staff/categories/{code}"],
                    "checks": {"use_after_free": {"enabled": False}},
                },
                {
                    "include-path": CHECKED_AGAINST_STATE,
                    "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
                },
            ],
        }
    )


def run(role: str, url: str, token: str, seed: int, max_examples: int) -> Outcome:
    started = time.monotonic()
    try:
        schema = schemathesis.openapi.from_url(
            f"{url}/api/schema/", config=config(token, seed=seed, max_examples=max_examples)
        )
    except Exception as exc:  # schemathesis' loader errors do not cross a process boundary
        raise RuntimeError(f"{role}: the schema did not load: {exc}") from None
    statistic = Statistic()
    errors: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            statistic.on_scenario_finished(event.recorder)
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            errors.append(repr(event.exception))
    seconds = time.monotonic() - started
    lines = [
        f"{role}: {len(statistic.tested_operations)} operations, {statistic.total_cases} cases, "
        f"{statistic.total_failures} failures, {len(errors)} errors in {seconds:.0f} s (seed {seed})"
    ]
    for label, groups in sorted(statistic.failures.items()):
        for group in groups.values():
            lines += [f"- {label}: {failure.title}\n  {failure.message}" for failure in group.failures]
            if group.code_sample:
                lines.append(f"  {group.code_sample}")
    lines += [f"- error: {error}" for error in errors]
    return Outcome(
        operations=len(statistic.tested_operations),
        cases=statistic.total_cases,
        failures=statistic.total_failures,
        errors=len(errors),
        seconds=seconds,
        report="\n".join(lines),
    )
