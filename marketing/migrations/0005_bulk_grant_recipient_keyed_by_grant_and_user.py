"""Bulk-grant recipients keyed by (grant, user): the unique pair becomes the primary key and the
surrogate id goes, so a chunk writes one index entry fewer per recipient.

Django cannot change a table's primary key in place, so the rows move to a new table with the new key,
which then takes the old table's name."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

COLUMNS = "grant_id, user_id, status, processed_at"


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0004_hot_rows_without_db_foreign_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BulkGrantRecipientByKey",
            fields=[
                ("pk", models.CompositePrimaryKey("grant", "user", blank=True, editable=False, primary_key=True, serialize=False)),
                ("status", models.CharField(choices=[("PENDING", "Pending"), ("GRANTED", "Granted"), ("SKIPPED_LIMIT", "Skipped: limit reached"), ("SKIPPED_STOCK", "Skipped: out of stock"), ("FAILED", "Failed")], default="PENDING", max_length=14)),
                ("processed_at", models.DateTimeField(blank=True, null=True)),
                ("grant", models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="recipients", to="marketing.bulkgrant")),
                ("user", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["grant", "user"]},
        ),
        migrations.RunSQL(
            f"INSERT INTO marketing_bulkgrantrecipientbykey ({COLUMNS}) SELECT {COLUMNS} FROM marketing_bulkgrantrecipient",
            f"INSERT INTO marketing_bulkgrantrecipient ({COLUMNS}) SELECT {COLUMNS} FROM marketing_bulkgrantrecipientbykey",
        ),
        migrations.DeleteModel(name="BulkGrantRecipient"),
        migrations.RenameModel(old_name="BulkGrantRecipientByKey", new_name="BulkGrantRecipient"),
    ]
