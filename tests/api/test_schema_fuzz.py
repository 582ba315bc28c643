"""The API answers as ``/api/schema/`` says: schemathesis against gunicorn serving the test database, as a
customer and as staff at once (``tests/api/schema_fuzz.py`` has the run and what it checks)."""

import multiprocessing
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from rest_framework.authtoken.models import Token

from tests.api import schema_fuzz

MAX_EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_MAX_EXAMPLES", "5"))
SEED = int(os.environ.get("SCHEMA_FUZZ_SEED", "20261129"))


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"mysql://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


@pytest.fixture
def server(transactional_db, tmp_path: Path) -> Iterator[str]:
    """gunicorn on a free local port over the test database (what the test commits, it serves)."""
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": _database_url()}
    # One thread per worker: drf-spectacular loads its extensions lazily and not thread-safely.
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", "127.0.0.1:0", "--workers", "4"]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stderr=output, stdout=output)
    try:
        url = None
        for _ in range(300):
            found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text())
            if found and requests.get(f"{found[1]}/api/v1/menu/", timeout=10).status_code == 200:
                url = found[1]
                break
            time.sleep(0.1)
        assert url, log.read_text()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_api_answers_as_its_schema_says(server):
    # given the demo data (menu, templates in every status, an activity, orders, a customer, a superuser)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    users = get_user_model().objects
    tokens = {
        "customer": Token.objects.get_or_create(user=users.get(username="demo"))[0].key,
        "staff": Token.objects.get_or_create(user=users.get(username="admin"))[0].key,
    }

    # when schemathesis runs every phase against it with each role's token, both at once
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = {
            role: pool.submit(schema_fuzz.run, role, server, token, SEED, MAX_EXAMPLES)
            for role, token in tokens.items()
        }
        outcomes = {role: run.result() for role, run in runs.items()}

    # then every operation was tested as both, and nothing failed
    sys.stdout.write("".join(f"\n{outcome.report.splitlines()[0]}" for outcome in outcomes.values()))
    for outcome in outcomes.values():
        assert outcome.operations >= 45 and outcome.cases > 1000, outcome.report
        assert (outcome.failures, outcome.errors) == (0, 0), outcome.report
