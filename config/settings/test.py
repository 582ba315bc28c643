"""Tests: MariaDB/MySQL and Redis over real connections (the concurrency guarantees mean something there)."""

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, database_config, env

DEBUG = False
SECRET_KEY = "test-only-not-secret"
ALLOWED_HOSTS = ["*"]
DATABASES = {"default": database_config(env("DATABASE_URL", default="mysql://root@127.0.0.1:3306/coupons"))}
# Faster password hashing in tests only.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LANGUAGE_CODE = "en"
CELERY_TASK_ALWAYS_EAGER = False
# The suite's webhook receivers listen on 127.0.0.1; the refusal of such addresses is tested with it off.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
DEMO_SEED_ALLOWED = True
REST_FRAMEWORK = {**REST_FRAMEWORK}
