"""Django's MySQL/MariaDB backend with the health check of ``core.connections``."""

from django.db.backends.mysql import base

from core.connections import RecentUseHealthCheck


class DatabaseWrapper(RecentUseHealthCheck, base.DatabaseWrapper):
    pass
