import os

from celery import Celery

# Production unless told otherwise: a server or worker started without the variable must not run with
# DEBUG and the development secret. manage.py and `make run` use config.settings.local.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("coupons")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
