"""The stored procedure that claims one coupon in one round trip (MySQL/MariaDB; nothing elsewhere)."""

from django.db import migrations

from coupons.ledger import claim_procedure


def create_procedure(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    schema_editor.execute(claim_procedure.drop_sql(), params=None)
    create = claim_procedure.create_sql(
        schema_editor,
        template_model=apps.get_model("coupons", "CouponTemplate"),
        quota_model=apps.get_model("coupons", "ClaimQuota"),
        coupon_model=apps.get_model("coupons", "UserCoupon"),
    )
    schema_editor.execute(create, params=None)


def drop_procedure(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    schema_editor.execute(claim_procedure.drop_sql(), params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('coupons', '0004_template_unused_revoked'),
    ]

    operations = [
        migrations.RunPython(create_procedure, drop_procedure, atomic=False),
    ]
