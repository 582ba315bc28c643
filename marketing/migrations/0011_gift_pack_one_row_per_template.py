from django.db import migrations, models
from django.db.models import Count

MAX_ISSUE_QUANTITY = 1_000  # coupons.ledger.issuing.MAX_ISSUE_QUANTITY when this migration was written


def merge_repeated_templates(apps, schema_editor):
    """A pack holding one template on several rows keeps one row with their quantities added (at most
    what one issue gives), so the unique key below can be added."""
    item = apps.get_model("marketing", "GiftPackItem")
    repeated = item.objects.values("pack_id", "template_id").annotate(rows=Count("id")).filter(rows__gt=1)
    for group in repeated:
        rows = list(item.objects.filter(pack_id=group["pack_id"], template_id=group["template_id"]).order_by("id"))
        kept = rows[0]
        kept.quantity = min(sum(row.quantity for row in rows), MAX_ISSUE_QUANTITY)
        kept.save(update_fields=["quantity"])
        item.objects.filter(pk__in=[row.pk for row in rows[1:]]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("coupons", "0008_claim_quota_keyed_by_template_and_user"),
        ("marketing", "0010_pending_trigger_role_permissions"),
    ]

    operations = [
        migrations.RunPython(merge_repeated_templates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="giftpackitem",
            constraint=models.UniqueConstraint(fields=("pack", "template"), name="uniq_pack_template"),
        ),
    ]
