from django.conf import settings
from django.db import migrations

from core.schedule import install_schedule


def add_new_jobs(apps, schema_editor):
    install_schedule(apps, settings.TIME_ZONE)  # creates only the periodic tasks that do not exist yet


class Migration(migrations.Migration):
    dependencies = [("core", "0003_beat_schedule")]

    operations = [migrations.RunPython(add_new_jobs, migrations.RunPython.noop)]
