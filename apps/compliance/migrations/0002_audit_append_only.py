"""The audit trail is append-only: the database itself refuses UPDATE and DELETE on it."""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION compliance_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'compliance_auditevent is append-only: ' || TG_OP || ' refused',
        ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER compliance_auditevent_append_only
    BEFORE UPDATE OR DELETE ON compliance_auditevent
    FOR EACH ROW EXECUTE FUNCTION compliance_audit_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS compliance_auditevent_append_only ON compliance_auditevent;
DROP FUNCTION IF EXISTS compliance_audit_append_only();
"""
SQLITE_FORWARD = [
    """CREATE TRIGGER compliance_auditevent_no_update BEFORE UPDATE ON compliance_auditevent
       BEGIN SELECT RAISE(ABORT, 'compliance_auditevent is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER compliance_auditevent_no_delete BEFORE DELETE ON compliance_auditevent
       BEGIN SELECT RAISE(ABORT, 'compliance_auditevent is append-only: DELETE refused'); END;""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS compliance_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS compliance_auditevent_no_delete;",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    statements = {"postgresql": [PG_BACKWARD], "sqlite": SQLITE_BACKWARD}.get(schema_editor.connection.vendor, [])
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
