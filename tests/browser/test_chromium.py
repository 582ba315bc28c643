"""Without a browser the browser tests are skipped on a developer's machine, and fail in CI."""

import pytest

from tests.browser.chromium import find_chromium


@pytest.fixture
def no_chromium(monkeypatch, tmp_path):
    monkeypatch.delenv("CHROMIUM_BINARY", raising=False)
    monkeypatch.delenv("CHROMEDRIVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))


def test_a_missing_browser_is_a_skip_with_its_reason_on_a_developer_machine(no_chromium, monkeypatch):
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match="need chromium and chromedriver"):
        find_chromium()


def test_a_missing_browser_is_a_failure_in_ci(no_chromium, monkeypatch):
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="CI is set, so this is a failure"):
        find_chromium()


def test_the_system_browser_is_found_where_it_is_installed(monkeypatch, tmp_path):
    for name in ("chromium", "chromedriver"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.delenv("CHROMIUM_BINARY", raising=False)
    monkeypatch.delenv("CHROMEDRIVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))

    assert find_chromium() == (str(tmp_path / "chromium"), str(tmp_path / "chromedriver"))
