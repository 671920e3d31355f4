"""The audit tables' organisation (and a link's event) become plain ids: no foreign-key constraint, no index of their
own. Every audited commit otherwise locked the organisation's row FOR KEY SHARE up to four times (event, queue row,
link), a multixact per commit under concurrent writers; row-level security already ties each row to its
organisation, the append-only triggers refuse deletes, and the verification reports a link whose event is missing.
The (organisation, ...) indexes serve every search, so the single-column ones only cost writes.

SQLite rebuilds the tables to drop a constraint, which drops their triggers: they are made again after it (as in
0003 and 0006)."""

from importlib import import_module

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_sealed = import_module("apps.compliance.migrations.0003_audit_sealed_asynchronously")

SQLITE_TRIGGERS = [
    "DROP TRIGGER IF EXISTS compliance_auditevent_queue_seal",
    "DROP TRIGGER IF EXISTS compliance_auditchainlink_no_update",
    "DROP TRIGGER IF EXISTS compliance_auditchainlink_no_delete",
    # 0003's statements, less its last: filling the queue from every event was for its own upgrade only.
    *_sealed.SQLITE_FORWARD[:-1],
]


def sqlite_triggers_again(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0007_transfer_basis'),
        ('tenancy', '0002_break_glass'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, sqlite_triggers_again),
        migrations.AlterField(
            model_name='auditchainlink',
            name='event',
            field=models.OneToOneField(db_constraint=False, editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='link', to='compliance.auditevent'),
        ),
        migrations.AlterField(
            model_name='auditchainlink',
            name='organization',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.organization'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='actor_user',
            field=models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='organization',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.organization'),
        ),
        migrations.AlterField(
            model_name='auditpendingseal',
            name='organization',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.organization'),
        ),
        migrations.RunPython(sqlite_triggers_again, migrations.RunPython.noop),
    ]
