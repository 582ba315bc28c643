from django.conf import settings
from django.db import migrations

from core.schedule import install_schedule


def add_webhook_job(apps, schema_editor):
    install_schedule(apps, settings.TIME_ZONE)  # creates only the periodic tasks that do not exist yet


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_role_permissions"),
        ("core", "0004_purge_schedule"),
    ]

    operations = [migrations.RunPython(add_webhook_job, migrations.RunPython.noop)]
