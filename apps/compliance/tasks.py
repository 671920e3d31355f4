"""Dramatiq actors and periodic jobs of the compliance app."""

import dramatiq

from apps.core.outbox import enqueue, idempotent
from apps.core.periodic import every
from apps.tenancy.selectors import organization_ids

from . import sealing, services

SEAL_SWEEP_SECONDS = 1
VERIFY_EVERY_SECONDS = 24 * 3600


@dramatiq.actor(queue_name="default", max_retries=3)
@idempotent
def verify_audit_chain(org_id: int) -> None:
    """Checks one organisation's chain and records the result in that chain."""
    services.audit_chain_check(org_id=org_id)


@every(SEAL_SWEEP_SECONDS)
def seal_waiting_events() -> None:
    """Chains the events that no writer sealed after its commit. Done in the relay itself, not on a worker: sealing
    must keep pace with the writes and never wait behind a queue of other jobs."""
    for chain in sealing.chains_awaiting_seal():
        sealing.seal_pending(chain, wait=False)


@every(VERIFY_EVERY_SECONDS)
def verify_every_chain_daily() -> None:
    for org_id in organization_ids():
        enqueue(verify_audit_chain, org_id)


@dramatiq.actor(queue_name="default", max_retries=3, time_limit=60 * 60 * 1000)
@idempotent
def run_gdpr_request(org_id: int, request_id: int) -> None:
    """Builds the access bundle or erases the subject's data; a request no longer in progress is left alone."""
    from . import gdpr

    request = gdpr.gdpr_request_get(org_id=org_id, request_id=request_id)
    if request is not None:
        gdpr.gdpr_request_execute(request=request)


@dramatiq.actor(queue_name="default", max_retries=3, time_limit=6 * 60 * 60 * 1000)
def bind_dataset_subject_keys(org_id: int, dataset_id: int) -> None:
    """Re-wraps the blobs of a dataset's items with their subjects' keys (after a bulk metadata edit or a new
    Dataset.subject_key). Idempotent: a blob already wrapped by the right key is left alone."""
    from . import subject_keys

    subject_keys.items_bind_subject_keys(org=org_id, dataset_id=dataset_id)
