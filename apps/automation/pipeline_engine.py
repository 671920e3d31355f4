"""Running a pipeline: a PipelineRun per trigger firing, a NodeRun per node and item, one Dramatiq message per node
and batch of items (predict on the organisation's regional gpu queue, the rest on its default queue).

How a redelivered message changes nothing twice:
- a message names (run, node, items); it works only on those NodeRuns not yet done or failed;
- a NodeRun is marked done, and the NodeRuns of the next nodes created, in one transaction that re-reads the rows
  under lock: only rows that were still running move on, so the next nodes are queued once;
- (run, node, item) is unique, so a next-node row can exist only once whatever happens;
- predict replaces the model version's suggestions per (item, version), human_task adds units ON CONFLICT DO
  NOTHING, route accepts only suggestions still proposed: doing an item's work twice leaves the same result.

A batch that raises is retried by Dramatiq with backoff (attempts recorded on each NodeRun); after MAX_ATTEMPTS its
items are failed, with the error, and `pipeline_run_retry_failed` queues them again. An item-level problem (not an
image, the task is gone) fails that item at once: trying again would not change it.

What each node type does to a batch of items is in pipeline_nodes.py.
"""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.compliance.services import audit_record
from apps.core.outbox import enqueue
from apps.datasets.selectors import item_filter, item_list
from apps.tenancy.permissions import require_scope

from .events import broadcast_run
from .models import NodeRun, Pipeline, PipelineRun
from .pipeline_nodes import NodeContext, Outcome
from .pipeline_triggers import items_added_record as items_added_record  # the items-added listener (apps.py)
from .pipeline_triggers import watched_trigger
from .pipelines import NODE_TYPES, node_of, successors, validate_graph

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # per batch message; each retry asked for through the API grants as many again
BATCH = 32
MAX_RUN_ITEMS = 10_000
MAX_DRY_RUN_ITEMS = 5  # the builder page's dry run picks at most this many items
OPEN = (NodeRun.Status.QUEUED, NodeRun.Status.RUNNING)


# --- starting and retrying ------------------------------------------------------------------------------------


def _resolve_items(pipeline: Pipeline, *, item_ids, query) -> list[int]:
    if (item_ids is None) == (query is None):
        raise ValidationError({"item_ids": "Give either item_ids or a query."})
    if item_ids is not None:
        if not isinstance(item_ids, list) or not item_ids or len(item_ids) > MAX_RUN_ITEMS:
            raise ValidationError({"item_ids": f"A list of 1 to {MAX_RUN_ITEMS:,} item ids."})
        bad = [i for i in item_ids if not isinstance(i, int) or isinstance(i, bool) or i <= 0]
        if bad:
            raise ValidationError({"item_ids": f"Not an item id: {bad[0]!r}."})
        wanted = sorted(set(item_ids))
        found = set(item_list(dataset=pipeline.dataset).filter(pk__in=wanted).values_list("id", flat=True))
        missing = [i for i in wanted if i not in found]
        if missing:
            raise ValidationError({"item_ids": f"No such item in the pipeline's dataset: {missing[0]}."})
        return wanted
    if not isinstance(query, dict):
        raise ValidationError({"query": "A filter of the query language (a JSON object)."})
    try:
        ids = list(item_filter(dataset=pipeline.dataset, filter=query).order_by("id")
                   .values_list("id", flat=True)[:MAX_RUN_ITEMS + 1])
    except ValidationError as exc:
        raise ValidationError({f"query.{k}" if k != "filter" else "query": v for k, v in exc.message_dict.items()}) \
            from None
    if not ids:
        raise ValidationError({"query": "No item of the pipeline's dataset matches this query."})
    if len(ids) > MAX_RUN_ITEMS:
        raise ValidationError({"query": f"More than {MAX_RUN_ITEMS:,} items match: narrow the query."})
    return ids


def pipeline_run_start(*, org, actor, pipeline: Pipeline, item_ids=None, query=None) -> PipelineRun:
    """Fires the pipeline's trigger by hand over these items (ids of its dataset, or a query over it) and queues the
    first nodes after commit. Any trigger kind may be fired by hand (a dry run of an item_added pipeline)."""
    require_scope(org=org, actor=actor, scope="model.manage")
    if not pipeline.enabled:
        raise ValidationError({"enabled": "This pipeline is switched off: enable it to run it."})
    graph = validate_graph(pipeline.graph, org=org, actor=actor, dataset=pipeline.dataset)
    ids = _resolve_items(pipeline, item_ids=item_ids, query=query)
    with transaction.atomic():
        return _run_create(org=org, actor=actor, pipeline=pipeline, graph=graph, ids=ids,
                           trigger={"kind": "manual",
                                    **({"query": query} if query is not None else {"item_ids": ids[:1000]})})


def _run_create(*, org, actor, pipeline: Pipeline, graph: dict, ids: list[int], trigger: dict) -> PipelineRun:
    """The run, its trigger rows (done) and the first nodes' rows, queued on commit (inside the caller's
    transaction)."""
    node = next(n for n in graph["nodes"] if n["type"] == "trigger")
    now = timezone.now()
    run = PipelineRun.objects.create(organization_id=org.pk, pipeline=pipeline, graph=graph, created_by=actor,
                                     item_count=len(ids), trigger=trigger)
    NodeRun.objects.bulk_create([
        NodeRun(organization_id=org.pk, run=run, node_id=node["id"], node_type="trigger", item_id=i,
                status=NodeRun.Status.DONE, attempts=1, queued_at=now, started_at=now, finished_at=now)
        for i in ids])
    _advance(org=org, run=run, node=node, outputs={i: {} for i in ids})
    audit_record(org=org, actor=actor, action="pipeline.run_started", target=run,
                 metadata={"pipeline_id": pipeline.pk, "items": len(ids), "trigger": run.trigger})
    broadcast_run(run)
    return run


# --- triggers that record items (item_added, query, schedule: pipeline_triggers.py) ----------------------------


def pipeline_run_start_triggered(*, org, actor, pipeline: Pipeline) -> PipelineRun | None:
    """Starts one run of an item_added, query or schedule pipeline over the items waiting for it (at most
    MAX_RUN_ITEMS; a further message is queued for the rest). None when nothing waits (a redelivery, or an earlier
    message took them all): the waiting rows are claimed under lock and marked with the run, so no item starts two
    runs."""
    from .models import TriggeredItem

    require_scope(org=org, actor=actor, scope="model.manage")
    watched = watched_trigger(pipeline.graph)
    if not pipeline.enabled or watched is None:
        return None
    graph = validate_graph(pipeline.graph, org=org, actor=actor, dataset=pipeline.dataset)
    with transaction.atomic():
        waiting = list(TriggeredItem.objects.for_org(org).select_for_update(skip_locked=True)
                       .filter(pipeline=pipeline, run__isnull=True).order_by("item_id")
                       .values_list("id", "item_id")[:MAX_RUN_ITEMS + 1])
        more, waiting = len(waiting) > MAX_RUN_ITEMS, waiting[:MAX_RUN_ITEMS]
        if not waiting:
            return None
        ids = [item_id for _, item_id in waiting]
        run = _run_create(org=org, actor=actor, pipeline=pipeline, graph=graph, ids=ids,
                          trigger={"kind": watched["kind"], "item_ids": ids[:1000]})
        TriggeredItem.objects.for_org(org).filter(pk__in=[pk for pk, _ in waiting]).update(run=run)
        if more:
            from .tasks import START_TRIGGERED

            enqueue(START_TRIGGERED[org.region], org.pk, pipeline.pk)
    return run


def pipeline_run_retry_failed(*, org, actor, run: PipelineRun) -> int:
    """Queues the run's failed node runs again; returns how many."""
    require_scope(org=org, actor=actor, scope="model.manage")
    with transaction.atomic():
        locked = PipelineRun.objects.for_org(org).select_for_update().get(pk=run.pk)
        failed = list(NodeRun.objects.for_org(org).select_for_update().filter(run=locked,
                                                                             status=NodeRun.Status.FAILED))
        if not failed:
            raise ValidationError({"run": "This run has no failed items to retry."})
        by_node: dict[str, list[int]] = {}
        for row in failed:
            row.status, row.finished_at = NodeRun.Status.QUEUED, None
            row.attempts += (-row.attempts) % MAX_ATTEMPTS  # a fresh allowance of MAX_ATTEMPTS
            row.log = (row.log + f"\nRetry asked for at {timezone.now().isoformat()} after: {row.error}")[-10_000:]
            row.error = ""
            by_node.setdefault(row.node_id, []).append(row.item_id)
        NodeRun.objects.bulk_update(failed, ["status", "finished_at", "attempts", "log", "error"])
        locked.status, locked.finished_at = PipelineRun.Status.RUNNING, None
        locked.save(update_fields=["status", "finished_at"])
        for node_id, ids in by_node.items():
            _enqueue(org=org, run=locked, node=node_of(locked.graph, node_id), item_ids=sorted(ids))
        audit_record(org=org, actor=actor, action="pipeline.run_retried", target=locked,
                     metadata={"node_runs": len(failed), "nodes": sorted(by_node)})
        broadcast_run(locked)
    run.status, run.finished_at = locked.status, None
    return len(failed)


def _enqueue(*, org, run: PipelineRun, node: dict, item_ids: list[int]) -> None:
    from .tasks import RUN_NODE

    actor = RUN_NODE[NODE_TYPES[node["type"]].queue][org.region]
    for start in range(0, len(item_ids), BATCH):
        enqueue(actor, org.pk, run.pk, node["id"], item_ids[start:start + BATCH])


def _advance(*, org, run: PipelineRun, node: dict, outputs: dict[int, dict]) -> None:
    """Creates the next nodes' runs for the items that finished `node` and queues them (inside the caller's
    transaction, so on commit). A row that exists already is left alone: (run, node, item) is unique."""
    targets: dict[str, tuple[dict, list[tuple[int, dict]]]] = {}
    for item_id, output in outputs.items():
        if output.get("stop"):
            continue
        item_id = output.get("next_item_id") or item_id  # a preprocess node in derive mode: on with the new item
        for nxt in successors(run.graph, node["id"], output.get("branch")):
            targets.setdefault(nxt["id"], (nxt, []))[1].append((item_id, output))
    for nxt, entries in targets.values():
        NodeRun.objects.bulk_create(
            [NodeRun(organization_id=run.organization_id, run=run, node_id=nxt["id"], node_type=nxt["type"],
                     item_id=item_id, input=output) for item_id, output in entries],
            ignore_conflicts=True)
        _enqueue(org=org, run=run, node=nxt, item_ids=sorted(i for i, _ in entries))


# --- executing one message ------------------------------------------------------------------------------------


def _claim(*, org, run: PipelineRun, node: dict, item_ids) -> list[NodeRun]:
    with transaction.atomic():
        rows = list(NodeRun.objects.for_org(org).select_for_update().filter(
            run=run, node_id=node["id"], item_id__in=list(item_ids), status__in=OPEN).order_by("item_id"))
        now = timezone.now()
        for row in rows:
            row.status, row.attempts, row.started_at, row.finished_at = NodeRun.Status.RUNNING, row.attempts + 1, \
                now, None
        NodeRun.objects.bulk_update(rows, ["status", "attempts", "started_at", "finished_at"])
    return rows


def node_execute(*, org, actor, run: PipelineRun, node_id: str, item_ids) -> Outcome | None:
    """Runs one node over the items of one message. Returns None when there was nothing left to do (a redelivery)."""
    node = node_of(run.graph, node_id)
    if node is None or NODE_TYPES.get(node["type"]) is None or NODE_TYPES[node["type"]].run is None:
        return None
    rows = _claim(org=org, run=run, node=node, item_ids=item_ids)
    if not rows:
        return None
    if actor is None:
        outcome = Outcome(errors={r.item_id: "The person who started this run is no longer a member." for r in rows})
    else:
        try:
            outcome = import_string(NODE_TYPES[node["type"]].run)(NodeContext(org, actor, run, node), rows)
        except Exception as exc:
            if _record_attempt_failure(org=org, run=run, rows=rows, exc=exc):
                raise  # Dramatiq's Retries middleware delivers it again after a backoff
            return Outcome(errors={r.item_id: f"{type(exc).__name__}: {exc}" for r in rows})
    _complete(org=org, run=run, node=node, rows=rows, outcome=outcome)
    return outcome


def _record_attempt_failure(*, org, run, rows: list[NodeRun], exc: Exception) -> bool:
    """Keeps the error on the rows; those out of attempts are failed, the others wait for Dramatiq's retry (True
    when some do)."""
    message = f"{type(exc).__name__}: {exc}"[:2000]
    logger.warning("Pipeline run %s node %s failed on %d items: %s", run.pk, rows[0].node_id, len(rows), message)
    now = timezone.now()
    with transaction.atomic():
        locked = list(NodeRun.objects.for_org(org).select_for_update().filter(
            pk__in=[r.pk for r in rows], status=NodeRun.Status.RUNNING))
        for row in locked:
            final = row.attempts % MAX_ATTEMPTS == 0
            row.status = NodeRun.Status.FAILED if final else NodeRun.Status.QUEUED
            row.error = message
            row.finished_at = now
            row.log = (row.log + f"\nAttempt {row.attempts} failed: {message}"
                       + ("" if final else "; retrying with backoff"))[-10_000:]
        NodeRun.objects.bulk_update(locked, ["status", "error", "finished_at", "log"])
        _finish_if_done(org=org, run=run)
        broadcast_run(run)
    return any(row.status == NodeRun.Status.QUEUED for row in locked)


def _complete(*, org, run, node: dict, rows: list[NodeRun], outcome: Outcome) -> None:
    now = timezone.now()
    with transaction.atomic():
        locked = list(NodeRun.objects.for_org(org).select_for_update().filter(
            pk__in=[r.pk for r in rows], status=NodeRun.Status.RUNNING))
        done = {}
        for row in locked:
            row.finished_at = now
            if row.item_id in outcome.errors:
                row.status, row.error = NodeRun.Status.FAILED, outcome.errors[row.item_id][:2000]
                row.log = (row.log + f"\nAttempt {row.attempts} failed: {row.error}")[-10_000:]
            else:
                output = outcome.outputs.get(row.item_id, {})
                row.status, row.output, row.error = NodeRun.Status.DONE, output, ""
                row.log = (row.log + (f"\n{outcome.log}" if outcome.log else ""))[-10_000:]
                if output.get("waiting"):  # released by human_task_waits_release once people are done
                    row.status, row.finished_at = NodeRun.Status.WAITING, None
                    continue
                done[row.item_id] = output
        NodeRun.objects.bulk_update(locked, ["status", "output", "error", "finished_at", "log"])
        _advance(org=org, run=run, node=node, outputs=done)
        _finish_if_done(org=org, run=run)
        broadcast_run(run)


def _finish_if_done(*, org, run: PipelineRun) -> None:
    """Once no node run is queued or running, makes the dataset versions items reached and closes the run."""
    locked = PipelineRun.objects.for_org(org).select_for_update().get(pk=run.pk)
    if locked.status != PipelineRun.Status.RUNNING:
        return
    rows = NodeRun.objects.for_org(org).filter(run=locked)
    if rows.filter(status__in=(*OPEN, NodeRun.Status.WAITING)).exists():
        return
    result = dict(locked.result or {})
    made = {v["node_id"] for v in result.get("versions", [])}
    for node in locked.graph["nodes"]:
        if node["type"] == "dataset_version" and node["id"] not in made and rows.filter(
                node_id=node["id"], status=NodeRun.Status.DONE).exists():
            result.setdefault("versions", []).append(_make_version(org=org, run=locked, node=node))
    failed = rows.filter(status=NodeRun.Status.FAILED).exists() or any(
        v.get("error") for v in result.get("versions", []))
    locked.status = PipelineRun.Status.FAILED if failed else PipelineRun.Status.DONE
    locked.finished_at = timezone.now()
    locked.result = result
    locked.save(update_fields=["status", "finished_at", "result"])
    audit_record(org=org, actor=locked.created_by, action="pipeline.run_finished", target=locked,
                 metadata={"status": locked.status, "versions": result.get("versions", [])})
    run.status, run.finished_at, run.result = locked.status, locked.finished_at, result


def _make_version(*, org, run: PipelineRun, node: dict) -> dict:
    from apps.core.errors import ConflictError
    from apps.datasets.version_services import dataset_version_create

    actor = run.created_by
    if actor is None:
        return {"node_id": node["id"], "error": "The person who started this run no longer exists."}
    try:
        with transaction.atomic():
            scope = node["config"].get("scope", "dataset")
            version = dataset_version_create(org=org, actor=actor, dataset=run.pipeline.dataset,
                                             message=node["config"]["message"],
                                             filter={"pipeline.run": run.pk} if scope == "run"
                                             else node["config"].get("filter"))
    except PermissionDenied:
        return {"node_id": node["id"], "error": "The person who started this run may not make versions."}
    except ValidationError as exc:
        return {"node_id": node["id"], "error": "; ".join(exc.messages)}
    except ConflictError as exc:
        return {"node_id": node["id"], "error": exc.message}
    return {"node_id": node["id"], "dataset_version_id": version.pk, "number": version.number,
            "scope": node["config"].get("scope", "dataset")}


UNFINISHED_UNITS = ("queued", "leased", "submitted", "in_review", "rejected")  # WorkItem.State values


def orgs_with_waiting_node_runs() -> list[int]:
    """Across organisations (the periodic sweep only): which have node runs waiting for people."""
    from apps.tenancy.context import system_context

    with system_context():
        return list(NodeRun.objects.filter(status=NodeRun.Status.WAITING).order_by()
                    .values_list("organization_id", flat=True).distinct())


def human_task_waits_release(*, org) -> int:
    """Moves on the waiting items of human_task nodes (wait: true) whose units on the node's task are all finished
    (approved, done or cancelled): their rows are done and the next nodes queued, under lock, so a second sweep
    moves nothing twice. Returns how many rows moved on."""
    from apps.workforce.models import WorkItem

    moved = 0
    waiting = NodeRun.objects.for_org(org).filter(status=NodeRun.Status.WAITING)
    for run_id, node_id in waiting.order_by().values_list("run_id", "node_id").distinct():
        with transaction.atomic():
            run = PipelineRun.objects.for_org(org).select_related("pipeline").get(pk=run_id)
            node = node_of(run.graph, node_id)
            rows = list(waiting.select_for_update(skip_locked=True).filter(run_id=run_id, node_id=node_id))
            if node is None or not rows:
                continue
            busy = set(WorkItem.objects.for_org(org).filter(
                task_id=node["config"]["task_id"], item_id__in=[r.item_id for r in rows],
                state__in=UNFINISHED_UNITS).values_list("item_id", flat=True))
            now, done = timezone.now(), {}
            ready = [r for r in rows if r.item_id not in busy]
            for row in ready:
                row.status, row.finished_at = NodeRun.Status.DONE, now
                row.output = {k: v for k, v in row.output.items() if k != "waiting"}
                row.log = (row.log + f"\nIts units on task {node['config']['task_id']} are done.")[-10_000:]
                done[row.item_id] = row.output
            if not ready:
                continue
            NodeRun.objects.bulk_update(ready, ["status", "finished_at", "output", "log"])
            _advance(org=org, run=run, node=node, outputs=done)
            _finish_if_done(org=org, run=run)
            broadcast_run(run)
            moved += len(ready)
    return moved


# --- reads for the run page and API ---------------------------------------------------------------------------


def run_summary(run: PipelineRun) -> dict:
    """Counts per node and status, and the failed items with their errors (at most 500)."""
    rows = NodeRun.objects.for_org(run.organization_id).filter(run=run)
    counts = {n["id"]: {"type": n["type"], **dict.fromkeys(NodeRun.Status.values, 0)} for n in run.graph["nodes"]}
    for entry in rows.values("node_id", "status").annotate(n=Count("id")).order_by():
        counts.setdefault(entry["node_id"], dict.fromkeys(NodeRun.Status.values, 0))[entry["status"]] = entry["n"]
    failed = list(rows.filter(Q(status=NodeRun.Status.FAILED)).order_by("node_id", "item_id")
                  .values("id", "node_id", "item_id", "attempts", "error", "finished_at")[:500])
    return {"nodes": counts, "failed": failed}
