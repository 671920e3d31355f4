"""Dramatiq actors of the automation app: pre-annotation on the `gpu` queue of the organisation's region.

Not wrapped in @idempotent (one transaction around a whole batch of inference would hold it open for the length
of the run): the work is idempotent by itself, because every item's suggestions from a model version are
replaced in one transaction keyed by (item, model version), so a redelivered message leaves the same result.
"""

from apps.tenancy.context import tenant_context

from . import selectors, services
from .queues import regional_actors


def preannotate_items(org_id: int, model_version_id: int, item_ids: list[int], actor_id: int) -> None:
    from apps.datasets.selectors import member_user_get

    version = selectors.model_version_get(org_id=org_id, version_id=model_version_id)
    actor = member_user_get(org_id=org_id, user_id=actor_id)
    if version is None or actor is None:  # deleted since, or the person left: nothing to do
        return
    with tenant_context(version.organization, actor):
        services.preannotate_items(org=version.organization, actor=actor, model_version=version, item_ids=item_ids)


PREANNOTATE = regional_actors(preannotate_items, name="preannotate_items", base_queue="gpu", max_retries=3,
                              time_limit=60 * 60 * 1000)


def enqueue_preannotation(*, org, model_version_id: int, item_ids: list[int], actor_id: int) -> None:
    from apps.core.outbox import enqueue

    enqueue(PREANNOTATE[org.region], org.pk, model_version_id, item_ids, actor_id)
