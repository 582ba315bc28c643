from django.db import migrations

from core.roles import give_roles_app_permissions


def give_roles_marketing_permissions(apps, schema_editor):
    give_roles_app_permissions(apps, "marketing")


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0009_activity_image_pictures_only"),
        ("core", "0002_staff_groups"),
    ]

    operations = [migrations.RunPython(give_roles_marketing_permissions, migrations.RunPython.noop)]
