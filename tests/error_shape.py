"""The API's error shape: {"error": {"code", "message", "details"}}."""

from typing import Any


def assert_api_error(response: Any, status: int, code: str | None = None, field: str | None = None) -> dict:
    """Assert ``response`` is an error of ``status`` in the spec's shape; return its ``error`` object."""
    assert response.status_code == status, (response.status_code, getattr(response, "data", response.content))
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"].strip()
    assert isinstance(error["details"], dict)
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert field in error["details"], error
        assert error["details"][field], error
    return error
