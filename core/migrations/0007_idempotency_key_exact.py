from django.db import migrations

# MySQL/MariaDB compare the key in the table's case-insensitive collation: "order-abc" and "ORDER-ABC"
# would be one key (the second request replayed the first one's answer, or was refused as a reuse). A key is
# compared exactly, as on SQLite and PostgreSQL, whose default comparison is binary already.
EXACT = "utf8mb4_bin"


def _alter(apps, schema_editor, collation: str | None) -> None:
    if schema_editor.connection.vendor != "mysql":
        return
    record = apps.get_model("core", "IdempotencyRecord")
    field = record._meta.get_field("key")
    quote = schema_editor.quote_name
    kind = field.db_type(schema_editor.connection)
    collate = f" CHARACTER SET utf8mb4 COLLATE {collation}" if collation else ""
    schema_editor.execute(
        f"ALTER TABLE {quote(record._meta.db_table)} MODIFY {quote(field.column)} {kind}{collate} NOT NULL"
    )


def exact(apps, schema_editor):
    _alter(apps, schema_editor, EXACT)


def table_default(apps, schema_editor):
    _alter(apps, schema_editor, None)


class Migration(migrations.Migration):
    dependencies = [("core", "0006_stamp")]

    operations = [migrations.RunPython(exact, table_default, atomic=False)]  # DDL: MySQL cannot run it in a transaction
