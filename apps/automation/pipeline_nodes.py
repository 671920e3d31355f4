"""What each node type of a pipeline does to a batch of its items: the run functions pipelines.NODE_TYPES names.

A run function takes the node's context (organisation, actor, run, node) and its NodeRun rows, does the work, and
returns an Outcome: per item an output for the next nodes (a "branch" for route, "stop" to go no further) or an
error that fails the item. pipeline_engine.py claims the rows, records the outcome and queues what comes next; a
run function only has to be safe to repeat for the same items.
"""

import hashlib
import hmac
from dataclasses import dataclass, field

from django.utils import timezone

from apps.datasets.selectors import item_list

from .models import NodeRun, PipelineRun


@dataclass
class Outcome:
    outputs: dict[int, dict] = field(default_factory=dict)  # item id -> output ("branch", "stop", ...)
    errors: dict[int, str] = field(default_factory=dict)  # item id -> why it failed (not retried automatically)
    log: str = ""


@dataclass
class NodeContext:
    org: object
    actor: object
    run: PipelineRun
    node: dict

    @property
    def config(self) -> dict:
        return self.node["config"]


def run_predict(ctx: NodeContext, rows: list[NodeRun]) -> Outcome:
    from apps.annotations.models import Annotation
    from apps.storage.services import blob_read_bytes

    from .inference import open_image, predictor_for
    from .selectors import model_version_get
    from .services import preannotation_replace

    version = model_version_get(org_id=ctx.org.pk, version_id=ctx.config["model_version_id"])
    if version is None:
        return Outcome(errors={r.item_id: "The model version no longer exists." for r in rows})
    predictor = predictor_for(version)
    threshold = ctx.config.get("score_threshold") or 0.0
    items = list(item_list(dataset=ctx.run.pipeline.dataset).filter(pk__in=[r.item_id for r in rows])
                 .select_related("blob").order_by("id"))
    outcome = Outcome(errors={r.item_id: "The item no longer exists." for r in rows})
    images, kept = [], []
    for item in items:
        outcome.errors.pop(item.pk, None)
        if item.blob_id is None or not (item.mime or "").startswith("image/"):
            outcome.errors[item.pk] = f"Not an image ({item.mime or 'no content'}): nothing to predict on."
            continue
        try:
            images.append(open_image(blob_read_bytes(item.blob)))
            kept.append(item)
        except Exception as exc:  # an unreadable image fails that item, not the batch
            outcome.errors[item.pk] = f"The image could not be read: {exc}"[:500]
    results = predictor.predict(images) if images else []
    for item, annotations in zip(kept, results, strict=True):
        kept_annotations = [a for a in annotations if a.get("confidence") is None or a["confidence"] >= threshold]
        record = preannotation_replace(org=ctx.org, actor=ctx.actor, item=item, model_version=version,
                                       annotations=kept_annotations, provider=predictor.provider)
        made = list(Annotation.objects.for_org(ctx.org).filter(pk__in=record.annotation_ids)
                    .values("id", "label", "confidence").order_by("id"))
        outcome.outputs[item.pk] = {"model_version_id": version.pk, "suggestions": made[:200],
                                    "max_confidence": _max_confidence(made)}
    outcome.log = f"{len(kept)} items on {predictor.provider} with model version {version.pk}"
    return outcome


def _max_confidence(suggestions: list[dict]) -> float | None:
    values = [s["confidence"] for s in suggestions if s.get("confidence") is not None]
    return max(values) if values else None


def run_filter(ctx: NodeContext, rows: list[NodeRun]) -> Outcome:
    labels, minimum = set(ctx.config.get("labels") or []), ctx.config.get("min_confidence") or 0.0
    outcome = Outcome()
    for row in rows:
        kept = [s for s in row.input.get("suggestions", [])
                if (not labels or s.get("label") in labels) and (s.get("confidence") or 0.0) >= minimum]
        outcome.outputs[row.item_id] = {**row.input, "suggestions": kept, "max_confidence": _max_confidence(kept),
                                        "passed": bool(kept), **({} if kept else {"stop": True})}
    outcome.log = f"{sum(1 for o in outcome.outputs.values() if o['passed'])} of {len(rows)} items passed"
    return outcome


def run_route(ctx: NodeContext, rows: list[NodeRun]) -> Outcome:
    """>= accept_threshold: the item's suggestions are accepted and it takes the "accept" edges; else "human"."""
    from apps.annotations.models import Annotation
    from apps.annotations.services import annotations_change
    from apps.datasets.selectors import item_get

    threshold = ctx.config["accept_threshold"]
    outcome = Outcome()
    for row in rows:
        best = row.input.get("max_confidence")
        accept = best is not None and best >= threshold
        accepted = 0
        if accept:
            ids = [s["id"] for s in row.input.get("suggestions", [])]
            proposed = list(Annotation.objects.for_org(ctx.org).filter(
                item_id=row.item_id, pk__in=ids, source="model", review_state="proposed").values("id", "version"))
            item = item_get(org_id=ctx.org.pk, item_id=row.item_id)
            if proposed and item is not None:
                annotations_change(org=ctx.org, actor=ctx.actor, item=item,
                                   update=[{**p, "review_state": ""} for p in proposed])
            accepted = len(proposed)
        outcome.outputs[row.item_id] = {**row.input, "branch": "accept" if accept else "human", "accepted": accepted}
    outcome.log = f"threshold {threshold}"
    return outcome


def run_human_task(ctx: NodeContext, rows: list[NodeRun]) -> Outcome:
    from apps.workforce.models import Task
    from apps.workforce.services import task_items_add_ids

    task = Task.objects.for_org(ctx.org).select_related("dataset").filter(pk=ctx.config["task_id"]).first()
    if task is None:
        return Outcome(errors={r.item_id: "The task no longer exists." for r in rows})
    added = task_items_add_ids(org=ctx.org, actor=ctx.actor, task=task, item_ids=[r.item_id for r in rows])
    wait = {"waiting": True} if ctx.config.get("wait") else {}
    return Outcome(outputs={r.item_id: {"task_id": task.pk, **wait} for r in rows},
                   log=f"{added} units added to task {task.pk}" + ("; waiting for them to be done" if wait else ""))


def _passed_on(output: dict) -> dict:
    """What a node passes on of its input: the item's suggestions, without the previous node's branch or stop."""
    return {k: v for k, v in output.items() if k not in ("branch", "stop")}


def qa_sampled(node_id: str, item_id: int, ratio: float) -> bool:
    """Whether a qa node samples this item: the same answer for the same (node, item), a `ratio` share overall."""
    digest = hashlib.sha256(f"qa:{node_id}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < ratio


def run_qa(ctx: NodeContext, rows: list[NodeRun]) -> Outcome:
    """The sampled items go to the review task (as a human_task node adds them) and stop there; the rest go on."""
    from apps.workforce.models import Task
    from apps.workforce.services import task_items_add_ids

    ratio = ctx.config["sample_ratio"]
    sampled = [r.item_id for r in rows if qa_sampled(ctx.node["id"], r.item_id, ratio)]
    added = 0
    if sampled:
        task = Task.objects.for_org(ctx.org).select_related("dataset").filter(pk=ctx.config["task_id"]).first()
        if task is None:
            return Outcome(errors={i: "The review task no longer exists." for i in sampled},
                           outputs={r.item_id: {**_passed_on(r.input), "sampled": False}
                                    for r in rows if r.item_id not in sampled})
        added = task_items_add_ids(org=ctx.org, actor=ctx.actor, task=task, item_ids=sampled)
    chosen = set(sampled)
    outputs = {r.item_id: ({"task_id": ctx.config["task_id"], "sampled": True, "stop": True} if r.item_id in chosen
                           else {**_passed_on(r.input), "sampled": False}) for r in rows}
    return Outcome(outputs=outputs, log=f"{len(sampled)} of {len(rows)} items sampled for review "
                                        f"({added} units added to task {ctx.config['task_id']})")


WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024


class WebhookFailed(Exception):
    """The receiver did not take the batch (an error status, a timeout): the engine retries it with backoff."""


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 with the pipeline's secret over `<timestamp>.<body>` (X-Dlsaas-Timestamp)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def run_webhook(ctx: NodeContext, rows: list[NodeRun]) -> Outcome:
    """POSTs a JSON summary of the batch to the node's URL through the URL intake's SSRF-safe client, signed with the
    pipeline's secret. A refused address fails the items at once; an error status or a timeout raises, so the
    engine retries the batch with backoff and fails its items after MAX_ATTEMPTS."""
    import json

    from apps.storage.intake.errors import IntakeError
    from apps.storage.intake.urls import safe_fetch

    from .pipelines import WEBHOOK_TIMEOUT_SECONDS

    secret = ctx.run.pipeline.webhook_secret
    if not secret:
        return Outcome(errors={r.item_id: "This pipeline has no webhook secret (made before webhooks existed): "
                                          "create it again to get one." for r in rows})
    payload = {
        "run_id": ctx.run.pk, "pipeline_id": ctx.run.pipeline_id, "node_id": ctx.node["id"],
        "items": [{"item_id": r.item_id,
                   "suggestions": [{"label": s.get("label"), "confidence": s.get("confidence")}
                                   for s in r.input.get("suggestions", [])]} for r in rows],
    }
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(timezone.now().timestamp()))
    headers = {"Content-Type": "application/json", "X-Dlsaas-Timestamp": timestamp,
               "X-Dlsaas-Signature": webhook_signature(secret, timestamp, body)}
    url = ctx.config["url"]
    try:
        with safe_fetch(url, method="POST", body=body, headers=headers, max_redirects=0,
                        max_bytes=WEBHOOK_MAX_RESPONSE_BYTES, timeout_seconds=WEBHOOK_TIMEOUT_SECONDS) as answer:
            status = answer.status
    except IntakeError as exc:
        if exc.code in ("http_error", "timeout", "fetch_failed", "dns_failed", "tls_error", "too_large"):
            raise WebhookFailed(f"POST {url} failed: {exc.message}") from None
        # refused by the SSRF rules (private address, redirect, odd URL): sending again would not change it
        return Outcome(errors={r.item_id: f"Webhook refused: {exc.message}" for r in rows})
    return Outcome(outputs={r.item_id: {**_passed_on(r.input), "webhook_status": status} for r in rows},
                   log=f"POST {url} answered {status} ({len(rows)} items)")


def run_dataset_version(ctx: NodeContext, rows: list[NodeRun]) -> Outcome:
    return Outcome(outputs={r.item_id: {"reached": True} for r in rows},
                   log="The version is made once every item of the run is through.")


