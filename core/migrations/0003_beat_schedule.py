from django.conf import settings
from django.db import migrations

from core.schedule import install_schedule


def create_schedule(apps, schema_editor):
    install_schedule(apps, settings.TIME_ZONE)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_staff_groups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
