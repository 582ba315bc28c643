"""Browser tests: Debian's headless Chromium (driven by chromedriver through Selenium) on pytest-django's
live server, a transactional database, and an Operations and a Finance login made by ``create_staff``.

Screenshots of every step land in ``$BROWSER_TEST_OUTPUT`` (default ``var/test-output/browser``), one
folder per test: ``<test>/<NN-step>.png``. Without chromium and chromedriver the tests are skipped, except
in CI (``CI=true``), where that is a failure."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.chromium import find_chromium, start_chromium
from tests.browser.pages import PASSWORD, AdminBrowser, Screenshots, slug
from tests.marketing.distribution import clean_redis, ensure_roles, restore_roles_after_module  # noqa: F401
from tests.required import unavailable

ROOT = Path(__file__).resolve().parents[2]
WINDOW = (1366, 900)


def output_folder() -> Path:
    return Path(os.environ.get("BROWSER_TEST_OUTPUT") or ROOT / "var" / "test-output" / "browser")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the test, so the browser fixture knows at teardown whether it failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def chromium() -> Iterator[WebDriver]:
    """One headless Chromium for the whole run, with a fixed window (the screenshots compare)."""
    driver = start_chromium(*find_chromium(), window=WINDOW)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(output_folder() / slug(request.node.name))


@pytest.fixture
def admin_browser(request, chromium: WebDriver, live_server, screenshots: Screenshots) -> Iterator[AdminBrowser]:
    """The admin in Chromium on the live server; a failing test leaves a last screenshot and the page's HTML."""
    browser = AdminBrowser(chromium, live_server.url, screenshots)
    yield browser
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        browser.shot("failure")
        (screenshots.folder / "failure.html").write_text(chromium.page_source, encoding="utf-8")
    chromium.delete_all_cookies()


def create_staff(username: str, role: str) -> None:
    call_command("create_staff", username, "--role", role, "--password", PASSWORD, stdout=io.StringIO())


@pytest.fixture
def staff(transactional_db) -> dict[str, str]:
    """Logins for an Operations (``ops``) and a Finance (``finance``) staff member, as ``create_staff`` makes them."""
    ensure_roles()  # a transactional test's flush removed the groups the data migration made
    create_staff("ops", "operations")
    create_staff("finance", "finance")
    return {"operations": "ops", "finance": "finance"}


@contextmanager
def _worker() -> Iterator[None]:
    from celery.contrib.testing.worker import start_worker

    from config.celery_app import app

    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=30):
        yield


@pytest.fixture
def celery_worker() -> Callable[[], AbstractContextManager[None]]:
    """A Celery worker in this process (a thread) on the app's own broker: ``with celery_worker(): ...``
    runs what the app enqueued, as a worker process would."""
    if not settings.REDIS_URL:
        unavailable("the bulk grant's run needs Redis as the Celery broker (set REDIS_URL)")
    return _worker
