from django.contrib.auth.management import create_permissions
from django.db import migrations

from core.roles import sync_role_groups


def give_roles_marketing_permissions(apps, schema_editor):
    app_config = apps.get_app_config("marketing")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    app_config.models_module = None
    sync_role_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), app_labels=["marketing"])


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0009_activity_image_pictures_only"),
        ("core", "0002_staff_groups"),
    ]

    operations = [migrations.RunPython(give_roles_marketing_permissions, migrations.RunPython.noop)]
