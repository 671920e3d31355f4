"""A withdrawn DatasetVersion can be regenerated: the membership kept at withdrawal (`withdrawn_membership`, set
with the other withdrawn_* fields in the one ready -> withdrawn change the immutability trigger allows), the
version a regenerated one replaces (`regenerated_from`) and how it was built (`notes`); both are frozen with the
rest of the row once it is built."""

import django.db.models.deletion
from django.db import migrations, models

_PG_FUNCTION = """CREATE OR REPLACE FUNCTION datasets_datasetversion_immutable() RETURNS trigger AS $$
    DECLARE
        expected datasets_datasetversion;
    BEGIN
        IF OLD.status = 'building' THEN
            RETURN NEW;
        END IF;
        expected := OLD;
        IF NEW.created_by_id IS NULL THEN
            expected.created_by_id := NULL;
        END IF;
        IF OLD.status = 'ready' AND NEW.status = 'withdrawn' AND NEW.withdrawn_at IS NOT NULL THEN
            expected.status := NEW.status;
            expected.withdrawn_at := NEW.withdrawn_at;
            expected.withdrawn_reason := NEW.withdrawn_reason;
            expected.withdrawn_by_request_id := NEW.withdrawn_by_request_id;
            expected.withdrawn_membership := NEW.withdrawn_membership;
        END IF;
        IF NEW IS DISTINCT FROM expected THEN
            RAISE EXCEPTION USING MESSAGE = 'datasets_datasetversion rows are immutable once built: UPDATE refused',
                                  ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql"""
# 0009's function: the row type it names gains the new columns, which it then compares like any other.
_PG_PREVIOUS = _PG_FUNCTION.replace(
    "            expected.withdrawn_membership := NEW.withdrawn_membership;\n", "")
_SQLITE_COLUMNS = ("organization_id", "dataset_id", "number", "message", "filter", "item_count",
                   "annotation_count", "sections", "checksum", "error", "created_at", "finished_at",
                   "regenerated_from_id", "notes")
_SQLITE_PREVIOUS_COLUMNS = _SQLITE_COLUMNS[:-2]
_WITHDRAWN = ("withdrawn_at", "withdrawn_reason", "withdrawn_by_request_id", "withdrawn_membership")
_SQLITE_DROP = "DROP TRIGGER IF EXISTS datasets_datasetversion_immutable"


def _sqlite_trigger(columns, withdrawn, strict: bool) -> str:
    """`strict`: the withdrawn_* fields change only with the ready -> withdrawn change itself, as on PostgreSQL
    (0009 let them change on any ready row)."""
    withdrawing = "(OLD.status = 'ready' AND NEW.status = 'withdrawn')"
    status = f"(NEW.status IS NOT OLD.status AND NOT {withdrawing})"
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in withdrawn)
    when = f"NOT {withdrawing}" if strict else "OLD.status <> 'ready'"
    return ("CREATE TRIGGER datasets_datasetversion_immutable BEFORE UPDATE ON datasets_datasetversion "
            f"WHEN OLD.status <> 'building' AND ({status} OR ({when} AND ({changed})) OR "
            + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
            + " OR (NEW.created_by_id IS NOT NULL AND NEW.created_by_id IS NOT OLD.created_by_id)) "
            "BEGIN SELECT RAISE(ABORT, 'datasets_datasetversion rows are immutable once built: UPDATE refused'); END")


def _run(pg: list[str], sqlite: list[str]):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for statement in {"postgresql": pg, "sqlite": sqlite}.get(vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('datasets', '0010_dataset_subject_categories'),
    ]

    operations = [
        migrations.AddField(
            model_name='datasetversion',
            name='notes',
            field=models.TextField(blank=True, default='', help_text='How the version was made, where that needs saying (a regenerated version: what it was built from).'),
        ),
        migrations.AddField(
            model_name='datasetversion',
            name='regenerated_from',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='datasets.datasetversion'),
        ),
        migrations.AddField(
            model_name='datasetversion',
            name='withdrawn_membership',
            field=models.JSONField(blank=True, default=dict),
        ),
        # SQLite rebuilds the table to add a column, dropping its trigger: written again either way.
        migrations.RunPython(
            _run([_PG_FUNCTION], [_SQLITE_DROP, _sqlite_trigger(_SQLITE_COLUMNS, _WITHDRAWN, strict=True)]),
            _run([_PG_PREVIOUS], [_SQLITE_DROP, _sqlite_trigger(_SQLITE_PREVIOUS_COLUMNS, _WITHDRAWN[:3],
                                                                strict=False)]),
        ),
    ]
