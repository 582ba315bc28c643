from django.db import migrations

from core.roles import give_roles_app_permissions


def give_roles_webhook_permissions(apps, schema_editor):
    give_roles_app_permissions(apps, "webhooks")


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("core", "0002_staff_groups"),
    ]

    operations = [migrations.RunPython(give_roles_webhook_permissions, migrations.RunPython.noop)]
