"""Dramatiq actors and periodic jobs of the workforce app."""

import dramatiq

from apps.core.outbox import enqueue, idempotent
from apps.core.periodic import every

from . import distribution, live, selectors

LEASE_SWEEP_SECONDS = 30


@dramatiq.actor(queue_name="default", max_retries=3)
@idempotent
def expire_work_leases(org_id: int) -> None:
    """Gives expired leases of one organisation back to the queue (or to their annotator, for rework)."""
    while distribution.expire_leases(org_id=org_id) == distribution.EXPIRE_BATCH:
        pass


@every(LEASE_SWEEP_SECONDS)
def sweep_expired_leases() -> None:
    for org_id in selectors.organisations_with_expired_leases():
        enqueue(expire_work_leases, org_id)


LIVE_SWEEP_SECONDS = 30


@dramatiq.actor(queue_name="default", max_retries=3)
@idempotent
def sync_live_task_units(org_id: int, task_id: int) -> None:
    """New items of a live task's dataset that match its query become units."""
    task = selectors.task_get(org_id=org_id, task_id=task_id)
    if task is not None:
        live.sync_live_task(task=task)


@every(LIVE_SWEEP_SECONDS)
def sweep_live_tasks() -> None:
    for org_id, task_id in live.live_tasks():
        enqueue(sync_live_task_units, org_id, task_id)
