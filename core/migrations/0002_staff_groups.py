from django.contrib.auth.management import create_permissions
from django.db import migrations

from core.roles import sync_role_groups


def create_groups(apps, schema_editor):
    # Permissions are normally created after migrate; make them now so the groups can hold them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    # The apps of this migration's time; an app added later gives the roles its permissions itself.
    sync_role_groups(
        apps.get_model("auth", "Group"),
        apps.get_model("auth", "Permission"),
        app_labels=["auth", "core", "coupons", "marketing", "orders"],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("coupons", "0002_initial"),
        ("marketing", "0001_initial"),
        ("orders", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
