from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0002_bulk_grant_progress"),
    ]

    operations = [
        migrations.AddField(
            model_name="bulkgrant",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="heartbeat"),
        ),
    ]
