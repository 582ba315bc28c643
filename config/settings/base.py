"""Settings shared by every environment. Values come from the environment (12-factor)."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A local .env is read when present (never committed); the process environment wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Business time zone: "day", "weekday", "time slot" and "birthday" are read in it.
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")
USE_TZ = True
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
USE_I18N = True
LOCALE_PATHS = [BASE_DIR / "locale"]

# DATABASES
# ------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")


def database_config(url: str) -> dict:
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.mysql":
        # Note: READ COMMITTED is Django's advice for MySQL; stock and per-user limits are held
        # by conditional UPDATEs and unique keys, which this level keeps exact.
        config["OPTIONS"] = {
            "charset": "utf8mb4",
            "isolation_level": "read committed",
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES', innodb_lock_wait_timeout=10",
        }
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
        config["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        config["CONN_HEALTH_CHECKS"] = True
        # Django's backend, except that the health check's ping is skipped when the connection completed
        # a round trip less than HEALTH_CHECK_GRACE seconds ago (core/connections.py).
        config["ENGINE"] = "core.db_backends.mysql"
        config["HEALTH_CHECK_GRACE"] = env.float("CONN_HEALTH_CHECK_GRACE", default=1.0)
    elif config["ENGINE"] == "django.db.backends.sqlite3":
        # SQLite serialises writers; a generous timeout lets web, worker and beat share one file.
        config["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    return config


DATABASES = {"default": database_config(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# REDIS AND CACHES
# ------------------------------------------------------------------------------
# Optional. With REDIS_URL set: cache, claim admission gate and (by default) the Celery broker.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="coupons"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # The database is the source of truth: a Redis outage degrades, never breaks.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(BASE_DIR / "var" / "cache"),
        }
    }

# APPS
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "core.admin_apps.BackOfficeAdminConfig",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
]
LOCAL_APPS = [
    "core",
    "coupons",
    "marketing",
    "orders",
    "webhooks",
    "demo",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Every error under /api/ in the error shape (outside CommonMiddleware: its slash redirects pass).
    "core.api.middleware.ApiErrorShapeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Inside CommonMiddleware: an API collection named without its slash is served, not redirected.
    "core.api.middleware.ApiTrailingSlashMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: a lost database connection is retried around the view alone.
    "core.api.middleware.DatabaseLossMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# STATIC
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "var" / "media"

# CLIENT ADDRESSES
# ------------------------------------------------------------------------------
# Proxies whose X-Forwarded-For is believed: a count ("1" behind one load balancer) or comma-separated
# networks ("10.0.0.0/8,172.16.0.0/12"). Empty: none, the address is REMOTE_ADDR (core.clients).
TRUSTED_PROXIES = env("TRUSTED_PROXIES", default="")

# SIGN-IN LOCKOUT (admin login and /auth/token; core.lockout)
# ------------------------------------------------------------------------------
# Failed sign-ins counted per username and per client address in windows of LOGIN_LOCKOUT_WINDOW
# seconds; at the limit, signing in is refused for LOGIN_LOCKOUT_SECONDS whatever the password.
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
LOGIN_LOCKOUT_ADDRESS_FAILURES = env.int("LOGIN_LOCKOUT_ADDRESS_FAILURES", default=20)
LOGIN_LOCKOUT_WINDOW = env.int("LOGIN_LOCKOUT_WINDOW", default=900)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)

# REST FRAMEWORK
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's TokenAuthentication contract, in one SQL join instead of the ORM (core/api/authentication.py).
        "core.api.authentication.SingleQueryTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only (bulk grants also take a multipart upload): what the schema documents is what is parsed.
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    # JSON only: DRF's browsable HTML pages would answer a browser's Accept: text/html, and its errors
    # would lose their codes. The API's pages for people are Swagger UI (/api/docs/).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "core.api.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    # Per client address (core.clients.client_address) unless named per user.
    "DEFAULT_THROTTLE_RATES": {
        "register": env("REGISTER_THROTTLE", default="10/min"),
        "token": env("TOKEN_THROTTLE", default="20/min"),
        "redeem_user": env("REDEEM_THROTTLE_USER", default="10/min"),
        "redeem_ip": env("REDEEM_THROTTLE_IP", default="30/min"),
    },
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Coupon back office API",
    "DESCRIPTION": "Coupons and red packets for an online ordering platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets named once, whichever components carry them (a template's list row and its detail).
    "ENUM_NAME_OVERRIDES": {"TemplateStatusEnum": "coupons.models.TemplateStatus"},
    # Routes answered with and without a trailing slash are documented without it.
    "PREPROCESSING_HOOKS": ["core.api.schema.slash_optional_paths"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.api.schema.numeric_path_ids"],
}

# BUSINESS
# ------------------------------------------------------------------------------
# Unpaid orders older than this many minutes are cancelled by the timeout job.
ORDER_PAYMENT_TIMEOUT = env.int("ORDER_PAYMENT_TIMEOUT", default=15)
# Idempotency keys are remembered this many hours.
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
# Notification sending backend (dotted path to a callable taking a Notification).
NOTIFICATION_BACKEND = env("NOTIFICATION_BACKEND", default="marketing.notifications.log_backend")
# A notification claimed this many seconds ago and not sent lost its sender: the every-minute job sends it again.
NOTIFICATION_CLAIM_TIMEOUT = env.int("NOTIFICATION_CLAIM_TIMEOUT", default=60)
# Claim admission gate in Redis (used only when REDIS_URL is set); its key prefix.
CLAIM_GATE = env.bool("CLAIM_GATE", default=True)
CLAIM_GATE_PREFIX = env("CLAIM_GATE_PREFIX", default="claimgate")
# Users per transaction when a bulk grant runs.
BULK_GRANT_CHUNK_SIZE = env.int("BULK_GRANT_CHUNK_SIZE", default=1000)
# A running bulk grant whose heartbeat (each committed chunk) is older than this many seconds lost its
# worker and is resumed by the due-grants job (every 15 seconds). Far above a chunk's time (well under a second
# for 1,000 coupons); resuming a run that is only slow is harmless.
BULK_GRANT_STALL_SECONDS = env.int("BULK_GRANT_STALL_SECONDS", default=30)

# WEBHOOKS
# ------------------------------------------------------------------------------
# Seconds a whole webhook request may take: DNS, connecting (every address tried), sending and reading the answer.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5)
# Attempts per delivery before it is FAILED; the wait after attempt n is BASE * 2^(n-1), at most MAX.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=10)
WEBHOOK_RETRY_MAX_SECONDS = env.int("WEBHOOK_RETRY_MAX_SECONDS", default=3600)
# A delivery claimed this long ago and not finished lost its sender: the every-minute job sends it again.
# At least 2 x WEBHOOK_TIMEOUT_SECONDS + 10 (system check webhooks.W001).
WEBHOOK_CLAIM_TIMEOUT = env.int("WEBHOOK_CLAIM_TIMEOUT", default=60)
# Let webhooks reach loopback, private, link-local and reserved addresses (receivers on the platform's own
# network: a development machine, the test suite). Off: such URLs are refused when saved and when sent.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)
# Seconds a process keeps the set of subscribed event types before reading it again.
WEBHOOK_EVENT_TYPES_TTL = env.float("WEBHOOK_EVENT_TYPES_TTL", default=2)

# Mount the no-op DRF endpoint the claim benchmark compares against (never in production).
BENCH_NOOP = env.bool("BENCH_NOOP", default=False)
# ``seed_demo`` creates logins whose password is printed and published: only the local and test settings
# allow it.
DEMO_SEED_ALLOWED = False

# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"drop_refusals": {"()": "core.logs.DropRefusals"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # 409s are answers (sold out, limit reached), not faults: not one line each.
        "django.request": {"filters": ["drop_refusals"]},
        # The filesystem broker of the embedded default has no host name; kombu warns about it on every
        # connection.
        "kombu.connection": {"level": "ERROR"},
    },
}

from .celery import *  # noqa: E402,F403
