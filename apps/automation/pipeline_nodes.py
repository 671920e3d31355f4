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

    from .inference import predictor_for
    from .selectors import model_version_get
    from .services import preannotations_replace

    version = model_version_get(org_id=ctx.org.pk, version_id=ctx.config["model_version_id"])
    if version is None:
        return Outcome(errors={r.item_id: "The model version no longer exists." for r in rows})
    predictor = predictor_for(version)
    threshold = ctx.config.get("score_threshold") or 0.0
    items = list(item_list(dataset=ctx.run.pipeline.dataset).filter(pk__in=[r.item_id for r in rows])
                 .select_related("blob").order_by("id"))
    outcome = Outcome(errors={r.item_id: "The item no longer exists." for r in rows})
    candidates = []
    for item in items:
        outcome.errors.pop(item.pk, None)
        if item.blob_id is None or not (item.mime or "").startswith("image/"):
            outcome.errors[item.pk] = f"Not an image ({item.mime or 'no content'}): nothing to predict on."
        else:
            candidates.append(item)
    records, kept = [], []
    for chunk, results in _predicted_in_chunks(predictor, candidates, outcome.errors):
        # A chunk's suggestions in one transaction (not a commit per item), while the next chunk infers.
        records += preannotations_replace(
            org=ctx.org, actor=ctx.actor, model_version=version, provider=predictor.provider,
            results=[(item, [a for a in annotations if a.get("confidence") is None or a["confidence"] >= threshold])
                     for item, annotations in zip(chunk, results, strict=True)])
        kept += chunk
    made = {item.pk: [] for item in kept}
    for row in Annotation.objects.for_org(ctx.org).filter(
            pk__in=[pk for record in records for pk in record.annotation_ids]).values(
            "id", "item_id", "type", "label", "confidence").order_by("id"):
        made[row.pop("item_id")].append(row)
    for item_id, suggestions in made.items():
        outcome.outputs[item_id] = {"model_version_id": version.pk, "suggestions": suggestions[:200],
                                    "max_confidence": _max_confidence(suggestions)}
    outcome.log = f"{len(kept)} items on {predictor.provider} with model version {version.pk}"
    return outcome


def _read_images(items: list, errors: dict) -> tuple[list, list]:
    from apps.storage.services import blobs_read_bytes

    from .inference import open_image

    kept, images = [], []
    contents = blobs_read_bytes(org_id=items[0].organization_id, blob_ids=[i.blob_id for i in items]) if items else {}
    for item in items:
        try:
            content = contents[item.blob_id]
            if isinstance(content, Exception):
                raise content
            images.append(open_image(content))
            kept.append(item)
        except Exception as exc:  # an unreadable image fails that item, not the batch
            errors[item.pk] = f"The image could not be read: {exc}"[:500]
    return kept, images


def _predicted_in_chunks(predictor, items: list, errors: dict):
    """Yields (items, their predictions) a model batch at a time, pipelined so that the model is never kept waiting:
    a second thread only runs the model (onnxruntime releases the GIL) while this one reads, decrypts and
    pre-processes the next batch's images, decodes the previous batch's outputs and (in the caller) writes its
    suggestions; the database and storage round trips and the Python work hide behind the model. The inference
    thread never touches the database. An unreadable image is left out, its error in `errors`."""
    from concurrent.futures import ThreadPoolExecutor

    size = max(1, predictor.batch_size)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict") as pool:
        previous = None  # (items, prepared, future of the raw outputs) of the batch in flight
        for start in range(0, len(items), size):
            kept, images = _read_images(items[start:start + size], errors)
            if not kept:
                continue
            prepared = predictor.prepare(images)
            inferring = (kept, prepared, pool.submit(predictor.run, prepared))
            if previous is not None:
                yield previous[0], predictor.finish(previous[1], previous[2].result())
            previous = inferring
        if previous is not None:
            yield previous[0], predictor.finish(previous[1], previous[2].result())


def _max_confidence(suggestions: list[dict]) -> float | None:
    values = [s["confidence"] for s in suggestions if s.get("confidence") is not None]
    return max(values) if values else None


def run_filter(ctx: NodeContext, rows: list[NodeRun]) -> Outcome:
    labels, minimum = set(ctx.config.get("labels") or []), ctx.config.get("min_confidence") or 0.0
    outcome = Outcome()
    for row in rows:
        kept = [s for s in row.input.get("suggestions", [])
                if (not labels or s.get("label") in labels) and (s.get("confidence") or 0.0) >= minimum]
        if ctx.config.get("nms_iou") is not None:  # the post-process: overlapping boxes of a label, pruned
            from .pipeline_preprocess import suggestions_nms

            kept = suggestions_nms(ctx, row.item_id, kept, ctx.config["nms_iou"])
        outcome.outputs[row.item_id] = {**row.input, "suggestions": kept, "max_confidence": _max_confidence(kept),
                                        "passed": bool(kept), **({} if kept else {"stop": True})}
    outcome.log = f"{sum(1 for o in outcome.outputs.values() if o['passed'])} of {len(rows)} items passed"
    return outcome


def item_uncertainty(suggestions: list[dict], compared: list[dict] | None = None) -> dict:
    """How unsure the model is of one item, each part from 0 (sure) to 1:
    - confidence: 1 - its best suggestion's confidence (1 with no scored suggestion);
    - margin: 1 - (top class - runner-up) among its classification suggestions (with two labels or more);
    - spread: the most minus the least confident of its other suggestions (boxes, shapes; two or more);
    - versions: with `compared` (another model version's suggestions on the item), 1 - the overlap of the two label
      multisets (|A and B| / |A or B|).
    disagreement is the largest of margin, spread and versions; uncertainty the largest of all."""
    from collections import Counter

    best = _max_confidence(suggestions)
    parts = {"confidence": 1.0 - best if best is not None else 1.0}
    classes: dict[str, float] = {}
    for s in suggestions:
        if s.get("type") == "classification" and s.get("confidence") is not None:
            classes[s.get("label")] = max(classes.get(s.get("label"), 0.0), s["confidence"])
    if len(classes) >= 2:
        top, runner_up = sorted(classes.values(), reverse=True)[:2]
        parts["margin"] = 1.0 - (top - runner_up)
    shapes = [s["confidence"] for s in suggestions
              if s.get("type") not in (None, "classification") and s.get("confidence") is not None]
    if len(shapes) >= 2:
        parts["spread"] = max(shapes) - min(shapes)
    if compared is not None:
        mine, theirs = Counter(s.get("label") for s in suggestions), Counter(s.get("label") for s in compared)
        union = sum((mine | theirs).values())
        parts["versions"] = 1.0 - sum((mine & theirs).values()) / union if union else 0.0
    parts = {k: round(min(1.0, max(0.0, v)), 4) for k, v in parts.items()}
    disagreement = max((v for k, v in parts.items() if k != "confidence"), default=0.0)
    return {"confidence": best, "disagreement": disagreement, "uncertainty": max(parts.values()), "parts": parts}


def _compared_suggestions(ctx: NodeContext, item_ids: list[int]) -> dict[int, list[dict]]:
    """The compare model version's latest suggestions per item (items it never ran on are left out)."""
    from apps.annotations.models import Annotation

    from .models import PreAnnotation

    version_id = ctx.config.get("compare_model_version_id")
    if not version_id:
        return {}
    records = dict(PreAnnotation.objects.for_org(ctx.org).filter(model_version_id=version_id, item_id__in=item_ids)
                   .values_list("item_id", "annotation_ids"))
    wanted = [pk for ids in records.values() for pk in ids]
    found = {a["id"]: a for a in Annotation.objects.for_org(ctx.org).filter(pk__in=wanted)
             .values("id", "type", "label", "confidence")}
    return {item_id: [found[pk] for pk in ids if pk in found] for item_id, ids in records.items()}


def run_route(ctx: NodeContext, rows: list[NodeRun]) -> Outcome:
    """Active learning (pipelines.check_route): an item at or above accept_threshold, and disagreeing less than
    disagreement_threshold when one is set, has its suggestions accepted and takes the "accept" edges, or, sampled
    at qa_rate, goes to the review task and stops there; the others take the "human" edges carrying their
    uncertainty, by which a human_task node orders their units (the least sure served first)."""
    from apps.annotations.models import Annotation
    from apps.annotations.services import annotations_change
    from apps.datasets.selectors import item_get

    config = ctx.config
    threshold, limit = config["accept_threshold"], config.get("disagreement_threshold")
    compared = _compared_suggestions(ctx, [r.item_id for r in rows])
    outcome, sampled = Outcome(), {}
    for row in rows:
        suggestions = row.input.get("suggestions", [])
        doubt = item_uncertainty(suggestions, compared.get(row.item_id))
        best = row.input.get("max_confidence", doubt["confidence"])
        accept = best is not None and best >= threshold and (limit is None or doubt["disagreement"] < limit)
        accepted = 0
        if accept:
            ids = [s["id"] for s in suggestions]
            proposed = list(Annotation.objects.for_org(ctx.org).filter(
                item_id=row.item_id, pk__in=ids, source="model", review_state="proposed").values("id", "version"))
            item = item_get(org_id=ctx.org.pk, item_id=row.item_id)
            if proposed and item is not None:
                annotations_change(org=ctx.org, actor=ctx.actor, item=item,
                                   update=[{**p, "review_state": ""} for p in proposed])
            accepted = len(proposed)
        output = {**_passed_on(row.input), "branch": "accept" if accept else "human", "accepted": accepted,
                  "uncertainty": doubt["uncertainty"], "disagreement": doubt["disagreement"]}
        if accept and config.get("qa_rate") and qa_sampled(ctx.node["id"], row.item_id, config["qa_rate"]):
            output.update(qa_sampled=True, stop=True, task_id=config["qa_task_id"])
            sampled[row.item_id] = doubt["uncertainty"]
        outcome.outputs[row.item_id] = output
    log = f"threshold {threshold}"
    if sampled:
        from apps.workforce.models import Task
        from apps.workforce.services import task_items_add_ids

        task = Task.objects.for_org(ctx.org).select_related("dataset").filter(pk=config["qa_task_id"]).first()
        if task is None:
            for item_id in sampled:
                outcome.outputs.pop(item_id)
                outcome.errors[item_id] = "The review task no longer exists."
        else:
            added = task_items_add_ids(org=ctx.org, actor=ctx.actor, task=task, item_ids=sorted(sampled),
                                       uncertainty=sampled)
            log += f"; {len(sampled)} accepted items sampled for review ({added} units added to task {task.pk})"
    outcome.log = log
    return outcome


def run_human_task(ctx: NodeContext, rows: list[NodeRun]) -> Outcome:
    from apps.workforce.models import Task
    from apps.workforce.services import task_items_add_ids

    task = Task.objects.for_org(ctx.org).select_related("dataset").filter(pk=ctx.config["task_id"]).first()
    if task is None:
        return Outcome(errors={r.item_id: "The task no longer exists." for r in rows})
    # The route node's uncertainty, or, straight after predict or filter, the same measure of the suggestions.
    ranks = {r.item_id: r.input["uncertainty"] if isinstance(r.input.get("uncertainty"), int | float)
             else item_uncertainty(r.input.get("suggestions") or [])["uncertainty"]
             for r in rows if "uncertainty" in r.input or "suggestions" in r.input}
    added = task_items_add_ids(org=ctx.org, actor=ctx.actor, task=task, item_ids=[r.item_id for r in rows],
                               uncertainty=ranks)
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

    from apps.storage.errors import KeyUnavailable
    from apps.storage.intake.errors import IntakeError
    from apps.storage.intake.urls import safe_fetch

    from .pipelines import WEBHOOK_TIMEOUT_SECONDS
    from .webhook_secrets import webhook_signing_secrets

    try:
        signing = webhook_signing_secrets(ctx.run.pipeline)
    except KeyUnavailable as exc:
        return Outcome(errors={r.item_id: f"The webhook secret cannot be read: {exc}" for r in rows})
    if not signing:
        return Outcome(errors={r.item_id: "This pipeline has no webhook secret (made before webhooks existed): "
                                          "rotate it to get one." for r in rows})
    payload = {
        "run_id": ctx.run.pk, "pipeline_id": ctx.run.pipeline_id, "node_id": ctx.node["id"],
        "items": [{"item_id": r.item_id,
                   "suggestions": [{"label": s.get("label"), "confidence": s.get("confidence")}
                                   for s in r.input.get("suggestions", [])]} for r in rows],
    }
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(timezone.now().timestamp()))
    headers = {"Content-Type": "application/json", "X-Dlsaas-Timestamp": timestamp,
               # the current secret's, then the previous one's while a rotation's grace lasts (webhook_secrets.py)
               "X-Dlsaas-Signature": ", ".join(webhook_signature(secret, timestamp, body) for secret in signing)}
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


