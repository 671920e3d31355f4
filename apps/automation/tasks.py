"""Dramatiq actors of the automation app: pre-annotation on the `gpu` queue of the organisation's region.

Not wrapped in @idempotent (one transaction around a whole batch of inference would hold it open for the length
of the run): the work is idempotent by itself, because every item's suggestions from a model version are
replaced in one transaction keyed by (item, model version), so a redelivered message leaves the same result.
"""

import dramatiq

from apps.core.outbox import idempotent
from apps.core.periodic import every
from apps.core.queues import regional_actors
from apps.tenancy.context import tenant_context

from . import selectors, services


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


def run_pipeline_node(org_id: int, run_id: int, node_id: str, item_ids: list[int]) -> None:
    """One node of a pipeline run over a batch of items (pipeline_engine.py says why a redelivery is harmless)."""
    from apps.datasets.selectors import member_user_get

    from .pipeline_engine import node_execute

    run = selectors.pipeline_run_get(org_id=org_id, run_id=run_id)
    if run is None:  # the pipeline was deleted since
        return
    actor = member_user_get(org_id=org_id, user_id=run.created_by_id)
    with tenant_context(run.organization, actor):
        node_execute(org=run.organization, actor=actor, run=run, node_id=node_id, item_ids=item_ids)


_NODE_OPTIONS = {"max_retries": 10, "min_backoff": 1_000, "max_backoff": 60_000}
# {"default" | "gpu": {region: actor}}: inference on the gpu queue of the organisation's region, the rest on default.
RUN_NODE = {
    "default": regional_actors(run_pipeline_node, name="run_pipeline_node", base_queue="default",
                               time_limit=10 * 60 * 1000, **_NODE_OPTIONS),
    "gpu": regional_actors(run_pipeline_node, name="run_pipeline_node_gpu", base_queue="gpu",
                           time_limit=60 * 60 * 1000, **_NODE_OPTIONS),
}


def start_triggered_run(org_id: int, pipeline_id: int) -> None:
    """Starts a run of an item_added pipeline over the items waiting for it; a redelivery finds none waiting."""
    import logging

    from django.core.exceptions import PermissionDenied, ValidationError

    from apps.datasets.selectors import member_user_get

    from .pipeline_engine import pipeline_run_start_triggered

    pipeline = selectors.pipeline_get(org_id=org_id, pipeline_id=pipeline_id)
    if pipeline is None:  # deleted since: its waiting items went with it
        return
    actor = member_user_get(org_id=org_id, user_id=pipeline.created_by_id)
    if actor is None:
        logging.getLogger(__name__).warning("Pipeline %s: its author left; items wait for a new author", pipeline_id)
        return
    with tenant_context(pipeline.organization, actor):
        try:
            pipeline_run_start_triggered(org=pipeline.organization, actor=actor, pipeline=pipeline)
        except (ValidationError, PermissionDenied) as exc:  # fixed by a person, not by retrying: the items wait
            logging.getLogger(__name__).warning("Pipeline %s could not start on new items: %s", pipeline_id, exc)


START_TRIGGERED = regional_actors(start_triggered_run, name="start_triggered_run", base_queue="default",
                                  max_retries=5, time_limit=5 * 60 * 1000)


WAITS_SWEEP_SECONDS = 30


@dramatiq.actor(queue_name="default", max_retries=3)
@idempotent
def release_waiting_node_runs(org_id: int) -> None:
    """Moves on the items a human_task node (wait: true) holds whose units are finished."""
    from .pipeline_engine import human_task_waits_release

    org = selectors.organization_get(org_id=org_id)
    if org is not None:
        with tenant_context(org):
            human_task_waits_release(org=org)


@every(WAITS_SWEEP_SECONDS)
def sweep_waiting_node_runs() -> None:
    from apps.core.outbox import enqueue

    from .pipeline_engine import orgs_with_waiting_node_runs

    for org_id in orgs_with_waiting_node_runs():
        enqueue(release_waiting_node_runs, org_id)


def scan_trigger_matches(org_id: int, pipeline_id: int) -> None:
    """Records the items a query pipeline now takes after a bulk change of its dataset (pipeline_triggers.py)."""
    from .pipeline_triggers import pipeline_trigger_scan

    org = selectors.organization_get(org_id=org_id)
    if org is not None:
        with tenant_context(org):
            pipeline_trigger_scan(org=org, pipeline_id=pipeline_id)


SCAN_TRIGGER = regional_actors(scan_trigger_matches, name="scan_trigger_matches", base_queue="default",
                               max_retries=5, time_limit=10 * 60 * 1000)


def fire_scheduled_pipeline(org_id: int, pipeline_id: int) -> None:
    """Fires a schedule trigger whose time has come; a second message for the same firing finds it not due."""
    from .pipeline_triggers import pipeline_schedule_fire

    org = selectors.organization_get(org_id=org_id)
    if org is not None:
        with tenant_context(org):
            pipeline_schedule_fire(org=org, pipeline_id=pipeline_id)


FIRE_SCHEDULED = regional_actors(fire_scheduled_pipeline, name="fire_scheduled_pipeline", base_queue="default",
                                 max_retries=5, time_limit=10 * 60 * 1000)
SCHEDULE_SWEEP_SECONDS = 30


@every(SCHEDULE_SWEEP_SECONDS)
def sweep_scheduled_pipelines() -> None:
    from apps.core.outbox import enqueue

    from .pipeline_triggers import pipelines_due

    for org_id, region, pipeline_id in pipelines_due():
        enqueue(FIRE_SCHEDULED[region], org_id, pipeline_id)
