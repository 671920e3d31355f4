"""Webhook secrets sealed with the organisation's key (webhook_secrets.py), rotatable with a grace period.

The secrets pipelines have now (plain text) are sealed onto the new column before the old one goes. Sealing needs
the organisations' keys, so it goes through apps.storage.secrets (the current models, not the historical ones)."""

from django.db import migrations, models


def seal_existing_secrets(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":  # every organisation's rows (row-level security)
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.rls_bypass', 'on', true)")
    Pipeline = apps.get_model("automation", "Pipeline")
    rows = list(Pipeline._base_manager.exclude(webhook_secret="").only("id", "organization_id", "webhook_secret"))
    if not rows:
        return
    from apps.storage.secrets import org_secret_seal

    for row in rows:
        row.webhook_secret_sealed = org_secret_seal(org_id=row.organization_id, purpose=f"pipeline:{row.pk}:webhook",
                                                    secret=row.webhook_secret.encode())
        row.save(update_fields=["webhook_secret_sealed"])


class Migration(migrations.Migration):

    dependencies = [
        ("automation", "0008_suggestion_outcome"),
        ("storage", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="pipeline",
            name="webhook_secret_sealed",
            field=models.BinaryField(default=b"", editable=False),
        ),
        migrations.AddField(
            model_name="pipeline",
            name="webhook_secret_previous_sealed",
            field=models.BinaryField(default=b"", editable=False),
        ),
        migrations.AddField(
            model_name="pipeline",
            name="webhook_secret_previous_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="pipeline",
            name="webhook_secret_rotated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(seal_existing_secrets, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(
            model_name="pipeline",
            name="webhook_secret",
        ),
    ]
