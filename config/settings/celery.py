"""Celery settings (a topic file, imported by base)."""

import environ

env = environ.Env()

_redis_url = env("REDIS_URL", default="")
# Broker: explicit CELERY_BROKER_URL, else Redis when configured, else kombu's filesystem transport
# (the embedded default needs no server).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=_redis_url or "filesystem://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = env("TIME_ZONE", default="Asia/Shanghai")
CELERY_ENABLE_UTC = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
# A task is acknowledged only after it finished (acks_late), and a task whose pool process died (the OOM
# killer, a SIGKILL of the child) is given back to the queue at once by its worker (reject_on_worker_lost):
# safe because every task is idempotent, and none is known to kill its own process (which would loop).
# When the whole worker dies, Redis hands its unacknowledged task out again only after the visibility
# timeout below; what must not wait that long recovers on its own every minute through Beat (a bulk
# grant's heartbeat, BULK_GRANT_STALL_SECONDS; a webhook delivery's claim, WEBHOOK_CLAIM_TIMEOUT; a
# notification's claim, NOTIFICATION_CLAIM_TIMEOUT).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
# Every countdown and retry backoff stays below the visibility timeout (1 hour), so a delayed task is
# never handed to a second worker while the first still holds it.
CELERY_BROKER_VISIBILITY_TIMEOUT = env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}
CELERY_MAX_COUNTDOWN = 600
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

if CELERY_BROKER_URL.startswith("filesystem://"):
    from pathlib import Path

    _queue = Path(env("CELERY_FILESYSTEM_DIR", default=str(Path(__file__).resolve().parents[2] / "var" / "broker")))
    for _sub in ("out", "processed", "control"):
        (_queue / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue / "out"),
        "data_folder_out": str(_queue / "out"),
        "processed_folder": str(_queue / "processed"),
        "control_folder": str(_queue / "control"),
        "store_processed": False,
    }
