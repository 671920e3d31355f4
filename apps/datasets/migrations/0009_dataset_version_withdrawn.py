"""DatasetVersion can be withdrawn (its files held data erased under GDPR art. 17): the withdrawn_* fields, the
`withdrawn` status, and the immutability trigger allowing exactly ready -> withdrawn (nothing else changes)."""

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
        END IF;
        IF NEW IS DISTINCT FROM expected THEN
            RAISE EXCEPTION USING MESSAGE = 'datasets_datasetversion rows are immutable once built: UPDATE refused',
                                  ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql"""
_PG_PREVIOUS = """CREATE OR REPLACE FUNCTION datasets_datasetversion_immutable() RETURNS trigger AS $$
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
        IF NEW IS DISTINCT FROM expected THEN
            RAISE EXCEPTION USING MESSAGE = 'datasets_datasetversion rows are immutable once built: UPDATE refused',
                                  ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql"""
_SQLITE_COLUMNS = ("organization_id", "dataset_id", "number", "message", "filter", "item_count",
                   "annotation_count", "sections", "checksum", "error", "created_at", "finished_at")
_SQLITE_DROP = "DROP TRIGGER IF EXISTS datasets_datasetversion_immutable"


def _sqlite_trigger(withdrawable: bool) -> str:
    status = ("(NEW.status IS NOT OLD.status AND NOT (OLD.status = 'ready' AND NEW.status = 'withdrawn'))"
              if withdrawable else "NEW.status IS NOT OLD.status")
    withdrawn = (" OR (OLD.status <> 'ready' AND (NEW.withdrawn_at IS NOT OLD.withdrawn_at"
                 " OR NEW.withdrawn_reason IS NOT OLD.withdrawn_reason"
                 " OR NEW.withdrawn_by_request_id IS NOT OLD.withdrawn_by_request_id))") if withdrawable else ""
    return ("CREATE TRIGGER datasets_datasetversion_immutable BEFORE UPDATE ON datasets_datasetversion "
            "WHEN OLD.status <> 'building' AND (" + status + withdrawn + " OR "
            + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _SQLITE_COLUMNS)
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
        ('compliance', '0004_gdpr_requests'),
        ('datasets', '0008_dataset_legal_hold'),
    ]

    operations = [
        migrations.AddField(
            model_name='datasetversion',
            name='withdrawn_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='datasetversion',
            name='withdrawn_by_request',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='compliance.datasubjectrequest'),
        ),
        migrations.AddField(
            model_name='datasetversion',
            name='withdrawn_reason',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.AlterField(
            model_name='datasetversion',
            name='status',
            field=models.CharField(choices=[('building', 'Building'), ('ready', 'Ready'), ('failed', 'Failed'), ('withdrawn', 'Withdrawn')], default='building', max_length=10),
        ),
        migrations.RunPython(
            _run([_PG_FUNCTION], [_SQLITE_DROP, _sqlite_trigger(True)]),
            _run([_PG_PREVIOUS], [_SQLITE_DROP, _sqlite_trigger(False)]),
        ),
    ]
