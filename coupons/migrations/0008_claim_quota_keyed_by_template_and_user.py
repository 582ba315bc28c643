"""Quota rows keyed by (template, user): the unique pair becomes the primary key and the surrogate id
goes, so a claim or a bulk-grant chunk writes one index entry fewer per quota row.

Django cannot change a table's primary key in place, so the rows move to a new table with the new key,
which then takes the old table's name (the claim procedures refer to it by name)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

COLUMNS = "template_id, user_id, claimed"


class Migration(migrations.Migration):
    dependencies = [
        ("coupons", "0007_hot_rows_without_db_foreign_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ClaimQuotaByKey",
            fields=[
                ("pk", models.CompositePrimaryKey("template", "user", blank=True, editable=False, primary_key=True, serialize=False)),
                ("claimed", models.PositiveIntegerField(default=0)),
                ("template", models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="coupons.coupontemplate")),
                ("user", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.RunSQL(
            f"INSERT INTO coupons_claimquotabykey ({COLUMNS}) SELECT {COLUMNS} FROM coupons_claimquota",
            f"INSERT INTO coupons_claimquota ({COLUMNS}) SELECT {COLUMNS} FROM coupons_claimquotabykey",
        ),
        migrations.DeleteModel(name="ClaimQuota"),
        migrations.RenameModel(old_name="ClaimQuotaByKey", new_name="ClaimQuota"),
    ]
