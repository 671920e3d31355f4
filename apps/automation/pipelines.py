"""Pipelines: the node registry, the graph validator and the writes that create, change, delete and validate one.

A graph is {"nodes": [{"id", "type", "config"}], "edges": [{"from", "to", "when"?}]}. Every node type is one entry of
NODE_TYPES: type -> NodeType(config check, run function, queue), so a later type plugs in with one entry. The
engine that runs a graph over items is pipeline_engine.py; the run functions live in pipeline_nodes.py.

Every problem is a ValidationError keyed by its path in the graph (`graph.nodes.2.config.score_threshold`), so the
API answers 400 naming the node and the field.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.compliance.services import audit_record
from apps.core.errors import ConflictError
from apps.core.outbox import enqueue
from apps.tenancy.permissions import has_scope, require_scope

from .models import Pipeline, TriggeredItem
from .pipeline_checks import _model_version, check_dataset_version, check_route, unknown_keys
from .pipeline_preprocess import PREPROCESS_FIELDS, check_preprocess
from .pipeline_triggers import check_trigger, schedule_refresh
from .webhook_secrets import webhook_secret_issue

MAX_NODES = 50
MAX_EDGES = 200
MAX_ID = 64
ROUTE_BRANCHES = ("accept", "human")


@dataclass(frozen=True)
class NodeType:
    check: Callable[..., dict]  # (config, *, org, actor, dataset, path, errors) -> the config, cleaned
    run: str | None  # dotted path of the run function over a batch of node runs (pipeline_nodes.py)
    queue: str = "default"  # "gpu" for inference
    branches: tuple[str, ...] = ()  # the `when` values its outgoing edges must name (route)
    needs_prediction: bool = False  # must have a predict node upstream
    label: str = ""  # what the builder page calls it
    fields: tuple[dict, ...] = ()  # the builder page's form for its config: {name, label, kind, help?, choices?}


def _number(config: dict, key: str, path: str, errors: dict, *, default: float | None = None) -> float | None:
    value = config.get(key, default)
    if value is None:
        errors[f"{path}.{key}"] = "Required: a number from 0 to 1."
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        errors[f"{path}.{key}"] = "A number from 0 to 1."
        return None
    return float(value)


def _positive_int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def check_predict(config, *, org, actor, dataset, path, errors) -> dict:
    unknown_keys(config, {"model_version_id", "score_threshold"}, path, errors)
    threshold = _number(config, "score_threshold", path, errors, default=0.0)
    pk = _model_version(config, "model_version_id", org=org, actor=actor, path=path, errors=errors)
    return {"model_version_id": pk, "score_threshold": threshold}


def check_filter(config, *, org, actor, dataset, path, errors) -> dict:
    unknown_keys(config, {"min_confidence", "labels", "nms_iou"}, path, errors)
    minimum = _number(config, "min_confidence", path, errors, default=0.0)
    labels = config.get("labels", [])
    if not isinstance(labels, list) or len(labels) > 500 or not all(
            isinstance(x, str) and 0 < len(x) <= 200 for x in labels):
        errors[f"{path}.labels"] = "A list of label names (at most 500)."
        labels = []
    nms = {} if config.get("nms_iou") in (None, "") else {"nms_iou": _number(config, "nms_iou", path, errors)}
    return {"min_confidence": minimum, "labels": labels, **nms}  # nms_iou: pipeline_preprocess.suggestions_nms


def check_human_task(config, *, org, actor, dataset, path, errors) -> dict:
    from apps.workforce.models import Task

    unknown_keys(config, {"task_id", "wait"}, path, errors)
    wait = {"true": True, "false": False}.get(config.get("wait"), config.get("wait", False))  # the builder's choice
    if not isinstance(wait, bool):
        errors[f"{path}.wait"] = "true or false."
        wait = False
    pk = _positive_int(config.get("task_id"))
    task = Task.objects.for_org(org).filter(pk=pk).first() if pk else None
    if task is None or not has_scope(org=org, actor=actor, scope="task.manage", obj=task):
        errors[f"{path}.task_id"] = f"No such task: {config.get('task_id')!r}."
    elif dataset is not None and task.dataset_id != dataset.pk:
        errors[f"{path}.task_id"] = "This task works on another dataset than the pipeline's."
    elif task.status == Task.Status.DONE:
        errors[f"{path}.task_id"] = "This task is finished: items can no longer be added."
    return {"task_id": pk, **({"wait": True} if wait else {})}


def check_qa(config, *, org, actor, dataset, path, errors) -> dict:
    """A review task (as for human_task) and the share of the items, from 0 to 1, sampled into it."""
    unknown_keys(config, {"task_id", "sample_ratio"}, path, errors)
    ratio = _number(config, "sample_ratio", path, errors)
    task = check_human_task({"task_id": config.get("task_id")}, org=org, actor=actor, dataset=dataset, path=path,
                            errors=errors)
    return {**task, "sample_ratio": ratio}


WEBHOOK_TIMEOUT_SECONDS = 10.0


def check_webhook(config, *, org, actor, dataset, path, errors) -> dict:
    """An http(s) URL on a public host: the same syntax checks as the URL intake, and an IP literal or a local name
    that is not a public address refused now (the name is resolved, and checked again, when the node sends)."""
    import ipaddress

    from apps.storage.intake.conf import setting
    from apps.storage.intake.errors import IntakeError
    from apps.storage.intake.urls import check_url, is_public_address

    unknown_keys(config, {"url"}, path, errors)
    url = config.get("url")
    if not isinstance(url, str) or not url.strip():
        errors[f"{path}.url"] = "Required: the http or https URL to send to."
        return {"url": ""}
    url = url.strip()
    try:
        checked = check_url(url)
    except IntakeError as exc:
        errors[f"{path}.url"] = exc.message
        return {"url": url}
    try:
        ip = ipaddress.ip_address(checked.host)
    except ValueError:
        ip = None
    local_name = checked.host in ("localhost", "localhost.") or checked.host.rstrip(".").endswith(
        (".localhost", ".local", ".internal", ".localdomain"))
    loopback_ok = checked.port in set(setting("URL_IMPORT_ALLOW_LOOPBACK_PORTS"))  # tests only
    if (ip is not None and not is_public_address(ip) and not (ip.is_loopback and loopback_ok)) or (
            local_name and not loopback_ok):
        errors[f"{path}.url"] = f"{checked.host} is not a public internet address (private, loopback, link-local " \
                                "or reserved); a webhook can only be sent to a public address."
    return {"url": url}


_ENGINE = "apps.automation.pipeline_nodes"
# Field kinds of the builder's forms: choice (fixed choices), text, folder, fraction (a number from 0 to 1),
# labels (a comma-separated list), integer (a whole number), model_version and task (picked from the organisation's, by
# id).
NODE_TYPES: dict[str, NodeType] = {
    "trigger": NodeType(check=check_trigger, run=None, label="Trigger", fields=(  # fired, never queued
        {"name": "kind", "label": "Fires", "kind": "choice",
         "choices": [["manual", "By hand (item ids or a query)"], ["item_added", "When items are added"],
                     ["query", "When an item comes to match a query (added, or its metadata changed)"],
                     ["schedule", "On a schedule, over the matching items not taken yet"]]},
        {"name": "query", "label": "Items matching (query language, JSON)", "kind": "json",
         "help": 'e.g. {"metadata.camera": "A"}; optional for a schedule.', "when": {"kind": ["query", "schedule"]}},
        {"name": "every", "label": "Every", "kind": "text", "help": "15m, 2h or 1d; or leave empty and give a cron.",
         "when": {"kind": "schedule"}},
        {"name": "cron", "label": "Or at (cron, UTC)", "kind": "text",
         "help": "minute hour day-of-month month day-of-week, e.g. 0 6 * * 1-5.", "when": {"kind": "schedule"}},
        {"name": "folder", "label": "Only items under this folder", "kind": "folder",
         "help": "/ watches the whole dataset.", "when": {"kind": ["item_added", "query", "schedule"]}},
    )),
    "predict": NodeType(check=check_predict, run=f"{_ENGINE}.run_predict", queue="gpu", label="Predict", fields=(
        {"name": "model_version_id", "label": "Model version", "kind": "model_version"},
        {"name": "score_threshold", "label": "Keep suggestions scoring at least", "kind": "fraction",
         "help": "A number from 0 to 1."},
    )),
    "filter": NodeType(check=check_filter, run=f"{_ENGINE}.run_filter", needs_prediction=True, label="Filter",
                       fields=(
        {"name": "min_confidence", "label": "Minimum confidence", "kind": "fraction", "help": "A number from 0 to 1."},
        {"name": "labels", "label": "Only these labels", "kind": "labels",
         "help": "Comma-separated; empty keeps every label."},
        {"name": "nms_iou", "label": "Remove overlapping boxes of a label above this IoU (NMS)", "kind": "fraction",
         "help": "Optional, a number from 0 to 1: the most confident box is kept, the others' proposals deleted."},
    )),
    "route": NodeType(check=check_route, run=f"{_ENGINE}.run_route", branches=ROUTE_BRANCHES,
                      needs_prediction=True, label="Route by confidence (active learning)", fields=(
        {"name": "accept_threshold", "label": "Accept automatically from", "kind": "fraction",
         "help": "Items at or above it take the 'accept' edges, the others the 'human' edges, the least sure first."},
        {"name": "disagreement_threshold", "label": "Send to people from this disagreement on", "kind": "fraction",
         "help": "Optional: a small top-2 margin, spread among boxes or two versions disagreeing sends an item to "
                 "people even when confident."},
        {"name": "compare_model_version_id", "label": "Compare with model version", "kind": "model_version",
         "help": "Optional: its suggestions on the same item (from an earlier predict) count as disagreement."},
        {"name": "qa_rate", "label": "Share of accepted items to review", "kind": "fraction",
         "help": "A number from 0 to 1; the sampled items go to the review task and stop there."},
        {"name": "qa_task_id", "label": "Review task", "kind": "task"},
    )),
    "human_task": NodeType(check=check_human_task, run=f"{_ENGINE}.run_human_task", label="Human task", fields=(
        {"name": "task_id", "label": "Task", "kind": "task"},
        {"name": "wait", "label": "Wait until people have finished the items", "kind": "choice",
         "choices": [[False, "No: go on at once"], [True, "Yes: go on once their units are done"]]},
    )),
    "qa": NodeType(check=check_qa, run=f"{_ENGINE}.run_qa", label="QA sample", fields=(
        {"name": "task_id", "label": "Review task", "kind": "task"},
        {"name": "sample_ratio", "label": "Share of the items to review", "kind": "fraction",
         "help": "A number from 0 to 1; the same item is always sampled or not. The others go on."},
    )),
    "webhook": NodeType(check=check_webhook, run=f"{_ENGINE}.run_webhook", label="Webhook", fields=(
        {"name": "url", "label": "Send to (http or https URL)", "kind": "text",
         "help": "Signed with the pipeline's secret: X-Dlsaas-Signature: sha256=HMAC(secret, timestamp + '.' + body) "
                 "(after a rotation, also the old secret's, comma-separated, during its grace period)."},
    )),
    # Per item it only records that the item got there; the version is made once the run's items are all through.
    # Anonymise faces, resize, re-encode: pipeline_preprocess.py (queued with the CPU work: the face nets are small).
    "preprocess": NodeType(check=check_preprocess, run="apps.automation.pipeline_preprocess.run_preprocess",
                           label="Pre-process images (anonymise faces, resize, format)", fields=PREPROCESS_FIELDS),
    "dataset_version": NodeType(check=check_dataset_version, run=f"{_ENGINE}.run_dataset_version",
                                label="Dataset version", fields=(
        {"name": "message", "label": "Version message", "kind": "text"},
        {"name": "scope", "label": "Version", "kind": "choice",
         "choices": [["dataset", "The whole dataset when the run finishes"],
                     ["run", "Only the items of the run"],
                     ["filter", "The items matching a filter when the run finishes"]]},
        {"name": "filter", "label": "Filter (query language, JSON)", "kind": "json", "when": {"scope": "filter"}},
    )),
}


def node_type_forms() -> list[dict]:
    """The registry as the builder page reads it: each type's name, label, branches and config fields."""
    return [{"type": name, "label": kind.label or name, "branches": list(kind.branches), "fields": list(kind.fields)}
            for name, kind in NODE_TYPES.items()]


def _shape(graph, errors: dict) -> tuple[list[dict], list[dict]]:
    if not isinstance(graph, dict):
        errors["graph"] = 'A graph is {"nodes": [...], "edges": [...]}.'
        return [], []
    for key in sorted(set(graph) - {"nodes", "edges"}):
        errors[f"graph.{key}"] = "Unknown key: a graph has nodes and edges."
    nodes, edges = graph.get("nodes"), graph.get("edges", [])
    if not isinstance(nodes, list) or not nodes or len(nodes) > MAX_NODES:
        errors["graph.nodes"] = f"A list of 1 to {MAX_NODES} nodes."
        nodes = []
    if not isinstance(edges, list) or len(edges) > MAX_EDGES:
        errors["graph.edges"] = f"A list of at most {MAX_EDGES} edges."
        edges = []
    return nodes, edges


def validate_graph(graph, *, org, actor, dataset) -> dict:
    """The graph, cleaned (each node's config normalised), or a ValidationError naming every problem's path."""
    errors: dict[str, str] = {}
    nodes, edges = _shape(graph, errors)
    clean_nodes, index = [], {}
    for i, node in enumerate(nodes):
        path = f"graph.nodes.{i}"
        if not isinstance(node, dict):
            errors[path] = "A node is {id, type, config}."
            continue
        node_id, node_type, config = node.get("id"), node.get("type"), node.get("config", {})
        for key in sorted(set(node) - {"id", "type", "config"}):
            errors[f"{path}.{key}"] = "Unknown key: a node has id, type and config."
        if not isinstance(node_id, str) or not node_id.strip() or len(node_id) > MAX_ID:
            errors[f"{path}.id"] = f"A name of 1 to {MAX_ID} characters."
            continue
        if node_id in index:
            errors[f"{path}.id"] = f"Another node is already called {node_id!r}."
            continue
        kind = NODE_TYPES.get(node_type) if isinstance(node_type, str) else None
        if kind is None:
            errors[f"{path}.type"] = f"Unknown node type {node_type!r}: one of {', '.join(NODE_TYPES)}."
            continue
        if not isinstance(config, dict):
            errors[f"{path}.config"] = "A JSON object."
            config = {}
        clean = kind.check(config, org=org, actor=actor, dataset=dataset, path=f"{path}.config", errors=errors)
        index[node_id] = i
        clean_nodes.append({"id": node_id, "type": node_type, "config": clean})

    by_id = {n["id"]: n for n in clean_nodes}
    clean_edges, out_edges, in_degree, seen_edges = [], {n: [] for n in by_id}, dict.fromkeys(by_id, 0), set()
    for i, edge in enumerate(edges):
        path = f"graph.edges.{i}"
        if not isinstance(edge, dict):
            errors[path] = "An edge is {from, to, when?}."
            continue
        for key in sorted(set(edge) - {"from", "to", "when"}):
            errors[f"{path}.{key}"] = "Unknown key: an edge has from, to and when."
        source, target, when = edge.get("from"), edge.get("to"), edge.get("when")
        bad = False
        for key, value in (("from", source), ("to", target)):
            if not isinstance(value, str) or value not in by_id:
                if not (isinstance(value, str) and any(n.get("id") == value for n in nodes if isinstance(n, dict))):
                    errors[f"{path}.{key}"] = f"No node called {value!r}."
                bad = True
        if bad:
            continue
        if source == target:
            errors[f"{path}.to"] = "A node cannot lead to itself."
            continue
        branches = NODE_TYPES[by_id[source]["type"]].branches
        if branches and when not in branches:
            errors[f"{path}.when"] = f"An edge from a {by_id[source]['type']} node says when: one of " \
                                     f"{', '.join(branches)}."
            continue
        if not branches and when is not None:
            errors[f"{path}.when"] = f"A {by_id[source]['type']} node has no branches: leave 'when' out."
            continue
        if by_id[target]["type"] == "trigger":
            errors[f"{path}.to"] = "Nothing leads into a trigger."
            continue
        if (source, target, when) in seen_edges:
            errors[path] = "This edge is listed twice."
            continue
        seen_edges.add((source, target, when))
        out_edges[source].append(i)
        in_degree[target] += 1
        clean_edges.append({"from": source, "to": target, **({"when": when} if when is not None else {})})

    triggers = [n["id"] for n in clean_nodes if n["type"] == "trigger"]
    if clean_nodes and len(triggers) != 1:
        errors.setdefault("graph.nodes", "A pipeline starts at exactly one trigger node.")
    for node in clean_nodes:
        path = f"graph.nodes.{index[node['id']]}"
        if node["type"] != "trigger" and in_degree[node["id"]] == 0:
            errors.setdefault(path, f"Nothing leads to {node['id']!r}: only a trigger may start the graph.")
        if node["type"] == "trigger" and not out_edges[node["id"]]:
            errors.setdefault(path, "The trigger leads nowhere: connect it to a node.")
    edge_at = {(e["from"], e["to"], e.get("when")): i for i, e in enumerate(edges) if isinstance(e, dict)}
    cycle = _find_cycle(by_id, clean_edges)
    if cycle is not None:
        errors.setdefault(f"graph.edges.{edge_at[cycle]}", "This edge closes a cycle: a pipeline is a graph "
                                                           "without loops.")
    elif triggers:
        reach = _reachable(triggers[0], clean_edges)
        for node in clean_nodes:
            if node["id"] not in reach:
                errors.setdefault(f"graph.nodes.{index[node['id']]}",
                                  f"{node['id']!r} cannot be reached from the trigger.")
        predicted = _after_predict(by_id, clean_edges)
        for node in clean_nodes:
            if NODE_TYPES[node["type"]].needs_prediction and node["id"] not in predicted:
                errors.setdefault(f"graph.nodes.{index[node['id']]}",
                                  f"A {node['type']} node needs a predict node before it.")
    if errors:
        raise ValidationError(errors)
    return {"nodes": clean_nodes, "edges": clean_edges}


def _find_cycle(by_id: dict, edges: list[dict]):
    """The (from, to, when) of an edge that closes a cycle, or None."""
    out = {n: [] for n in by_id}
    for e in edges:
        out[e["from"]].append(e)
    state = dict.fromkeys(by_id, 0)  # 0 new, 1 on the stack, 2 finished
    for start in by_id:
        if state[start]:
            continue
        stack = [(start, iter(out[start]))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            edge = next(it, None)
            if edge is None:
                state[node] = 2
                stack.pop()
            elif state[edge["to"]] == 1:
                return (edge["from"], edge["to"], edge.get("when"))
            elif state[edge["to"]] == 0:
                state[edge["to"]] = 1
                stack.append((edge["to"], iter(out[edge["to"]])))
    return None


def _reachable(start: str, edges: list[dict]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for e in edges:
            if e["from"] == node and e["to"] not in seen:
                seen.add(e["to"])
                todo.append(e["to"])
    return seen


def _after_predict(by_id: dict, edges: list[dict]) -> set[str]:
    """Nodes every path to which passes through a predict node (the graph has no cycle here)."""
    incoming = {n: [e["from"] for e in edges if e["to"] == n] for n in by_id}
    memo: dict[str, bool] = {}

    def covered(node: str) -> bool:
        if node not in memo:
            memo[node] = False
            preds = incoming[node]
            memo[node] = bool(preds) and all(by_id[p]["type"] == "predict" or covered(p) for p in preds)
        return memo[node]

    return {n for n in by_id if covered(n)}


def successors(graph: dict, node_id: str, branch: str | None = None) -> list[dict]:
    """The nodes an item goes to after `node_id` (only the `branch` edges of a branching node)."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    return [nodes[e["to"]] for e in graph["edges"] if e["from"] == node_id and e.get("when") == branch]


def node_of(graph: dict, node_id: str) -> dict | None:
    return next((n for n in graph["nodes"] if n["id"] == node_id), None)


# --- writes ---------------------------------------------------------------------------------------------------


def _clean_name(name) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 200:
        raise ValidationError({"name": "A name of 1 to 200 characters."})
    return name


def pipeline_create(*, org, actor, name: str, dataset, graph, enabled: bool = True) -> Pipeline:
    require_scope(org=org, actor=actor, scope="model.manage")
    name = _clean_name(name)
    clean = validate_graph(graph, org=org, actor=actor, dataset=dataset)
    pipeline = Pipeline(organization_id=org.pk, name=name, dataset=dataset, graph=clean, enabled=bool(enabled),
                        created_by=actor)
    schedule_refresh(pipeline)
    try:
        with transaction.atomic():
            pipeline.save()
            pipeline.webhook_secret_shown = webhook_secret_issue(pipeline)  # the create answer shows it, once
            audit_record(org=org, actor=actor, action="pipeline.created", target=pipeline,
                         after={"name": name, "dataset_id": dataset.pk, "graph": clean, "enabled": pipeline.enabled},
                         metadata={"webhook_secret": "issued, sealed"})
    except IntegrityError:
        raise ValidationError({"name": f"A pipeline named {name!r} already exists."}) from None
    return pipeline


def pipeline_update(*, org, actor, pipeline: Pipeline, **changes) -> Pipeline:
    require_scope(org=org, actor=actor, scope="model.manage")
    unknown = set(changes) - {"name", "graph", "enabled"}
    if unknown:
        raise ValidationError({k: "This field cannot be changed." for k in sorted(unknown)})
    before = {"name": pipeline.name, "graph": pipeline.graph, "enabled": pipeline.enabled}
    if "name" in changes:
        pipeline.name = _clean_name(changes["name"])
    if "graph" in changes:
        pipeline.graph = validate_graph(changes["graph"], org=org, actor=actor, dataset=pipeline.dataset)
    if "enabled" in changes:
        pipeline.enabled = bool(changes["enabled"])
    pipeline.updated_at = timezone.now()
    if "graph" in changes or "enabled" in changes:
        schedule_refresh(pipeline, now=pipeline.updated_at)
    try:
        with transaction.atomic():
            pipeline.save(update_fields=["name", "graph", "enabled", "updated_at", "next_fire_at"])
            audit_record(org=org, actor=actor, action="pipeline.changed", target=pipeline, before=before,
                         after={"name": pipeline.name, "graph": pipeline.graph, "enabled": pipeline.enabled})
    except IntegrityError:
        raise ValidationError({"name": f"A pipeline named {pipeline.name!r} already exists."}) from None
    return pipeline


def pipeline_take_over(*, org, actor, pipeline: Pipeline) -> Pipeline:
    """The caller becomes the member the pipeline's triggered runs act as (its author left, or handed it on):
    the graph is checked with the caller's rights, and items that waited for an author start a run now."""
    from .tasks import START_TRIGGERED

    require_scope(org=org, actor=actor, scope="model.manage")
    if pipeline.created_by_id == actor.pk:
        raise ConflictError("Its triggered runs already act as you.")
    validate_graph(pipeline.graph, org=org, actor=actor, dataset=pipeline.dataset)
    with transaction.atomic():
        before = {"created_by": pipeline.created_by_id}
        pipeline.created_by, pipeline.updated_at = actor, timezone.now()
        pipeline.save(update_fields=["created_by", "updated_at"])
        audit_record(org=org, actor=actor, action="pipeline.taken_over", target=pipeline, before=before,
                     after={"created_by": actor.pk})
        if TriggeredItem.objects.for_org(org).filter(pipeline=pipeline, run__isnull=True).exists():
            enqueue(START_TRIGGERED[org.region], org.pk, pipeline.pk)
    return pipeline


def pipeline_delete(*, org, actor, pipeline: Pipeline) -> None:
    require_scope(org=org, actor=actor, scope="model.manage")
    with transaction.atomic():
        audit_record(org=org, actor=actor, action="pipeline.deleted", target=pipeline,
                     before={"name": pipeline.name, "graph": pipeline.graph})
        pipeline.delete()


def pipeline_validate(*, org, actor, pipeline: Pipeline, graph=None) -> dict:
    """Checks `graph` (or the saved graph, whose models and tasks may have changed since) and returns it cleaned."""
    require_scope(org=org, actor=actor, scope="model.manage")
    return validate_graph(pipeline.graph if graph is None else graph, org=org, actor=actor, dataset=pipeline.dataset)
