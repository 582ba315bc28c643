"""Production settings for the benchmarks, served over plain HTTP on 127.0.0.1.

One change: 4xx responses are not logged one line each (Django logs every 409 at WARNING); during a
sell-out that is a flood of lines nobody reads, and it would measure the console, not the service.
"""

from config.settings.production import *  # noqa: F403
from config.settings.production import LOGGING

LOGGING = {
    **LOGGING,
    "loggers": {**LOGGING.get("loggers", {}), "django.request": {"level": "ERROR"}},
}
