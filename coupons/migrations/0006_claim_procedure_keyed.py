"""The stored procedure that claims one coupon and writes its Idempotency-Key's record in one round trip,
and the plain one again, which now reads the new issued count from its UPDATE (MySQL/MariaDB; nothing
elsewhere)."""

from django.db import migrations

from coupons.ledger import claim_procedure


def create_procedures(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    models = {
        "template_model": apps.get_model("coupons", "CouponTemplate"),
        "quota_model": apps.get_model("coupons", "ClaimQuota"),
        "coupon_model": apps.get_model("coupons", "UserCoupon"),
    }
    record_model = apps.get_model("core", "IdempotencyRecord")
    for procedure, record in ((claim_procedure.PROCEDURE, None), (claim_procedure.KEYED_PROCEDURE, record_model)):
        schema_editor.execute(claim_procedure.drop_sql(procedure), params=None)
        schema_editor.execute(claim_procedure.create_sql(schema_editor, **models, record_model=record), params=None)


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
        migrations.RunPython(create_procedures, drop_procedure, atomic=False),
    ]
