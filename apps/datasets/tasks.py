"""Dramatiq actors of the datasets app: take ids, reload through the scoped selectors, call one service."""

import dramatiq
from django.db import transaction

from apps.core.outbox import enqueue, idempotent
from apps.core.periodic import every

from . import intake, selectors, services


@dramatiq.actor(queue_name="default", max_retries=3)
@idempotent
def make_item_thumbnail(org_id: int, item_id: int) -> None:
    item = selectors.item_get(org_id=org_id, item_id=item_id)
    if item is not None:
        intake.item_thumbnail_make(item=item)


@dramatiq.actor(queue_name="default", max_retries=3, time_limit=6 * 60 * 60 * 1000)
@idempotent
def run_import_job(org_id: int, job_id: int) -> None:
    job = selectors.import_job_get(org_id=org_id, job_id=job_id)
    if job is not None:
        intake.import_run(job=job)


@dramatiq.actor(queue_name="default", max_retries=5, time_limit=30 * 60 * 1000)
@idempotent
def fetch_import_items(org_id: int, job_id: int) -> None:
    """Fetches one batch of an import's pending items, then queues the next batch."""
    job = selectors.import_job_get(org_id=org_id, job_id=job_id)
    if job is not None and intake.fetch_import_items(job=job):
        with transaction.atomic():
            enqueue(fetch_import_items, org_id, job_id)


@dramatiq.actor(queue_name="default", max_retries=5, time_limit=30 * 60 * 1000)
@idempotent
def delete_matching_items(org_id: int, dataset_id: int, filter: dict, actor_id: int | None) -> None:
    """One batch of a bulk delete by query, then the next batch while items still match."""
    dataset = selectors.dataset_get(org_id=org_id, dataset_id=dataset_id)
    if dataset is None:
        return
    actor = selectors.member_user_get(org_id=org_id, user_id=actor_id)
    if services.items_delete_matching_batch(org=dataset.organization, actor=actor, dataset=dataset, filter=filter):
        with transaction.atomic():
            enqueue(delete_matching_items, org_id, dataset_id, filter, actor_id)


# Not @idempotent: that would run the whole build in the claim's transaction, which must instead be a REPEATABLE
# READ snapshot of its own (versions.py) and must not hold the files' blobs hostage to one rollback. The build is
# idempotent by itself: a built version is left alone, and a second delivery does nothing while the first still
# runs (dataset_version_build).
@dramatiq.actor(queue_name="default", max_retries=3, time_limit=6 * 60 * 60 * 1000)
def build_dataset_version(org_id: int, version_id: int) -> None:
    from .version_services import dataset_version_build, dataset_version_get

    version = dataset_version_get(org_id=org_id, version_id=version_id)
    if version is not None:
        dataset_version_build(version=version)


RETENTION_EVERY_SECONDS = 24 * 3600


@dramatiq.actor(queue_name="default", max_retries=3, time_limit=6 * 60 * 60 * 1000)
def purge_expired_items(org_id: int) -> None:
    """Deletes what outlived its dataset's retention, batch by batch (each batch its own transaction, so not
    @idempotent's one claim): a redelivery finds nothing left to delete."""
    from .retention import retention_purge

    retention_purge(org_id=org_id)


@every(RETENTION_EVERY_SECONDS)
def purge_expired_items_daily() -> None:
    from apps.tenancy.selectors import organization_ids

    for org_id in organization_ids():
        enqueue(purge_expired_items, org_id)
