"""Dramatiq actors of the annotations app: take ids, reload through the scoped selectors, call one service."""

import dramatiq
from django.db import transaction

from apps.core.outbox import enqueue, idempotent

from . import label_migration


@dramatiq.actor(queue_name="default", max_retries=5, time_limit=30 * 60 * 1000)
@idempotent
def migrate_labels(org_id: int, run_id: int) -> None:
    """One batch of a label migration run, then the next batch while annotations remain."""
    run = label_migration.label_migration_get(org_id=org_id, run_id=run_id)
    if run is not None and label_migration.label_migration_batch(run=run):
        with transaction.atomic():
            enqueue(migrate_labels, org_id, run_id)


def enqueue_label_migration(org_id: int, run_id: int) -> None:
    enqueue(migrate_labels, org_id, run_id)


# Exports and imports report progress while they run, so they are not wrapped in @idempotent (one transaction
# for the whole run would hide it): each claims its job with a conditional UPDATE instead, so a redelivered
# message finds the job taken or finished and does nothing (exports.claim_job).


@dramatiq.actor(queue_name="default", max_retries=3, time_limit=6 * 60 * 60 * 1000)
def run_export(org_id: int, job_id: int) -> None:
    from . import exports

    job = exports.export_job_get(org_id=org_id, job_id=job_id)
    if job is not None:
        exports.export_run(job=job)


@dramatiq.actor(queue_name="default", max_retries=3, time_limit=6 * 60 * 60 * 1000)
def run_annotation_import(org_id: int, job_id: int) -> None:
    from . import imports

    job = imports.annotation_import_get(org_id=org_id, job_id=job_id)
    if job is not None:
        imports.annotation_import_run(job=job)
