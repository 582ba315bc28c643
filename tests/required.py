"""Tools some tests need from the machine (a browser, GNU gettext): missing, such a test is skipped on a
developer's machine and fails in CI (``CI`` set, as ``.ci/run`` sets it), where they must be there."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where everything the tests need must be there."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)
