"""Tell the planner that an item's dataset determines its organisation, so row estimates for one
dataset (and the approximate counts built on them) are not multiplied down as if independent."""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE STATISTICS IF NOT EXISTS item_org_dataset_dependency (dependencies) "
            "ON organization_id, dataset_id FROM datasets_item"
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP STATISTICS IF EXISTS item_org_dataset_dependency")


class Migration(migrations.Migration):
    dependencies = [("datasets", "0002_item_import_job")]
    operations = [migrations.RunPython(forward, backward)]
