"""The stored procedure that claims one coupon and writes its Idempotency-Key's record in one round trip
(MySQL/MariaDB; nothing elsewhere)."""

from django.db import migrations

from coupons.ledger import claim_procedure


def create_procedure(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    schema_editor.execute(claim_procedure.drop_sql(claim_procedure.KEYED_PROCEDURE), params=None)
    create = claim_procedure.create_sql(
        schema_editor,
        template_model=apps.get_model("coupons", "CouponTemplate"),
        quota_model=apps.get_model("coupons", "ClaimQuota"),
        coupon_model=apps.get_model("coupons", "UserCoupon"),
        record_model=apps.get_model("core", "IdempotencyRecord"),
    )
    schema_editor.execute(create, params=None)


def drop_procedure(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    schema_editor.execute(claim_procedure.drop_sql(claim_procedure.KEYED_PROCEDURE), params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("coupons", "0005_claim_procedure"),
        ("core", "0005_due_grants_every_15s"),
    ]

    operations = [
        migrations.RunPython(create_procedure, drop_procedure, atomic=False),
    ]
