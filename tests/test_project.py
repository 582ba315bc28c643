"""Project-wide promises: migrations match the models, production settings pass the deploy checks, and
the API documents itself without a CDN."""

import json
import os
import re
import secrets
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_the_migrations_match_the_models():
    out = StringIO()

    # --check exits non-zero (SystemExit) when a model change has no migration
    call_command("makemigrations", "--check", "--dry-run", stdout=out)

    assert "No changes detected" in out.getvalue()


def _check_deploy(**env_changes: str) -> subprocess.CompletedProcess:
    """``manage.py check --deploy`` with the production settings and the environment the README gives."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE", "TRUSTED_PROXIES")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="coupons.example.com",
        TRUSTED_PROXIES="1",
        DATABASE_URL=os.environ.get("DATABASE_URL", "mysql://root@127.0.0.1:3306/coupons"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
    )
    env.update(env_changes)
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings():
    result = _check_deploy()

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


def test_check_deploy_warns_when_no_proxy_is_trusted_behind_one():
    result = _check_deploy(TRUSTED_PROXIES="")

    assert result.returncode != 0
    assert "core.W001" in result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_production_settings_need_their_database_and_redis(missing):
    env = {key: value for key, value in os.environ.items() if key not in (missing, "DJANGO_SETTINGS_MODULE")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="coupons.example.com",
        DATABASE_URL=os.environ.get("DATABASE_URL", "mysql://root@127.0.0.1:3306/coupons"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
    )
    del env[missing]

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode != 0
    assert missing in result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production", ALLOWED_HOSTS="coupons.example.com")

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_the_openapi_schema_is_served(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == settings.SPECTACULAR_SETTINGS["TITLE"]
    for path in (
        "/api/v1/auth/register",
        "/api/v1/auth/token",
        "/api/v1/menu/",
        "/api/v1/staff/templates/",
        "/api/v1/staff/templates/{id}",
        "/api/v1/staff/templates/{id}/submit",
        "/api/v1/staff/templates/{id}/approve",
        "/api/v1/staff/templates/{id}/reject",
        "/api/v1/staff/templates/{id}/stop",
        "/api/v1/staff/templates/{id}/copy",
        "/api/v1/staff/categories/",
        "/api/v1/staff/products/",
    ):
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/v1/staff/templates/"]


@pytest.mark.django_db
def test_swagger_ui_is_served_from_local_static_files_only(api_client):
    response = api_client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    assert any(asset.endswith("swagger-ui.css") for asset in assets)
    for asset in assets:
        assert asset.startswith(settings.STATIC_URL), asset
        assert finders.find(asset.removeprefix(settings.STATIC_URL)), f"{asset} is not a local static file"
    assert not re.search(r"https?://|//cdn|jsdelivr|unpkg|cdnjs", page, re.IGNORECASE)
    assert 'url: "/api/schema/"' in page
