"""What happens after a unit is submitted or reviewed: the quality workflow.

- a gold unit is scored against its truth (and, in a training task, may complete a qualification); its work is
  never promoted;
- a consensus item waits until all its slots are submitted, then their agreement decides: at or above the
  task's threshold the slots' merged work (apps.quality.merge) becomes the item's annotations; below it, the work
  agreeing most with the others goes to a reviewer;
- otherwise a share of the work (the task's review ratio, and always work fixed after a rejection) goes to a
  reviewer; the rest becomes the item's annotations at once;
- an approval promotes the reviewed work; a rejection sends it back to its annotator.
Each step appends to the work log.
"""

import random

from django.db import IntegrityError, transaction
from django.db.models import Avg
from django.utils import timezone

from apps.annotations.selectors import layer_contents
from apps.annotations.services import (
    annotations_discard_layer,
    annotations_promote_layer,
    annotations_promote_merged,
)
from apps.annotations.validation import AnnotationInputError

from .agreement import consensus, gold_result, merged
from .models import ConsensusResult, GoldItem, GoldScore, Qualification, Task, WorkItem
from .quality_hooks import evidence_recorded
from .selectors import unit_was_rejected
from .unit_hooks import unit_submitted


def after_submit(*, unit: WorkItem, actor) -> None:
    """Sets the submitted annotate unit's next state and does what follows; inside the submit's transaction."""
    unit_submitted(unit=unit, actor=actor)  # before the layer is promoted or scored
    task = unit.task
    if unit.is_gold:
        _score_gold(unit=unit, actor=actor)
        unit.state = WorkItem.State.DONE
        return
    if task.consensus > 1:
        unit.state = WorkItem.State.SUBMITTED
        unit.save(update_fields=["state"])
        _maybe_close_consensus(unit=unit, actor=actor)
        return
    if _sampled_for_review(task, unit):
        unit.state = WorkItem.State.IN_REVIEW
        queue_review(unit)
    else:
        unit.state = WorkItem.State.DONE
        _promote(unit, actor, reason="submitted")


def after_review(*, work: WorkItem, actor, approve: bool) -> None:
    """The reviewed annotate unit's next state."""
    work.state = WorkItem.State.APPROVED if approve else WorkItem.State.REJECTED
    work.version += 1
    work.save(update_fields=["state", "version"])
    if approve:
        _promote(work, actor, reason="approved")


def discard_draft(unit: WorkItem, actor, *, reason: str) -> None:
    """The unit changes hands unfinished: its layer is emptied so the next holder starts from nothing."""
    annotations_discard_layer(org=unit.organization, actor=actor, item=unit.item, layer=unit.layer_id,
                              reason=f"{reason} (task {unit.task_id}, unit {unit.pk})")


def _promote(unit: WorkItem, actor, *, reason: str) -> None:
    annotations_promote_layer(org=unit.organization, actor=actor, item=unit.item, layer=unit.layer_id,
                              reason=f"{reason} (task {unit.task_id}, unit {unit.pk})")


def _sampled_for_review(task: Task, unit: WorkItem) -> bool:
    if unit_was_rejected(unit=unit):
        return True  # fixed work is always re-reviewed
    return task.review_ratio > 0 and random.random() < task.review_ratio  # noqa: S311 - sampling, not secrets


def queue_review(unit: WorkItem) -> WorkItem:
    review, created = WorkItem.objects.for_org(unit.organization_id).get_or_create(
        organization_id=unit.organization_id, task_id=unit.task_id, item_id=unit.item_id,
        stage=WorkItem.Stage.REVIEW, slot=unit.slot,
        defaults={"annotator_id": unit.assignee_id, "reviews": unit, "priority": unit.priority + 1,
                  "due_at": unit.due_at, "uncertainty": unit.uncertainty},
    )
    if not created:  # re-review after a fix: the same review unit goes back to the queue
        review.state, review.assignee, review.lease_expires_at = WorkItem.State.QUEUED, None, None
        review.version += 1
        review.save(update_fields=["state", "assignee", "lease_expires_at", "version"])
    return review


# --- consensus ------------------------------------------------------------------------------------------------

def _maybe_close_consensus(*, unit: WorkItem, actor) -> None:
    slots = list(WorkItem.objects.for_org(unit.organization_id).select_for_update()
                 .filter(task=unit.task, item=unit.item, stage=WorkItem.Stage.ANNOTATE, is_gold=False))
    if len(slots) < unit.task.consensus or any(s.state != WorkItem.State.SUBMITTED for s in slots):
        return
    works = {s.pk: layer_contents(org=unit.organization, item=unit.item, layer=s.pk) for s in slots}
    spec = unit.task.recipe_version.spec
    score, chosen_id, pairs = consensus(works, spec=spec)
    chosen = next(s for s in slots if s.pk == chosen_id)
    is_merged = score >= unit.task.consensus_threshold
    ConsensusResult.objects.create(
        organization_id=unit.organization_id, task=unit.task, item=unit.item, score=score, pairs=pairs,
        chosen=chosen, outcome=ConsensusResult.Outcome.MERGED if is_merged else ConsensusResult.Outcome.REVIEW)
    evidence_recorded(task=unit.task, user_ids=[s.assignee_id for s in slots])
    for slot in slots:
        slot.state = WorkItem.State.DONE if is_merged or slot.pk != chosen.pk else WorkItem.State.IN_REVIEW
        slot.version += 1
    WorkItem.objects.bulk_update(slots, ["state", "version"])
    mine = next(s for s in slots if s.pk == unit.pk)
    unit.state, unit.version = mine.state, mine.version  # the caller saves `unit` after this
    if is_merged:
        _promote_merge(unit=unit, works=works, spec=spec, chosen=chosen, actor=actor,
                       reason=f"consensus {score:.2f}")
    else:
        queue_review(chosen)


def _promote_merge(*, unit: WorkItem, works: dict, spec: dict, chosen: WorkItem, actor, reason: str) -> None:
    """The merged work becomes the item's annotations; should the merge not validate against the recipe (it is
    built from validated work, so only a bug would do it), the work agreeing most with the others does."""
    try:
        annotations_promote_merged(org=unit.organization, actor=actor, item=unit.item,
                                   annotations=merged(works, spec=spec), recipe_version=unit.task.recipe_version,
                                   reason=f"{reason} (task {unit.task_id})")
    except AnnotationInputError:
        _promote(chosen, actor, reason=reason)


# --- gold, honeypots and qualification ----------------------------------------------------------------------

def _score_gold(*, unit: WorkItem, actor) -> GoldScore:
    gold = GoldItem.objects.for_org(unit.organization_id).get(task=unit.task, item=unit.item)
    result = gold_result(layer_contents(org=unit.organization, item=unit.item, layer=unit.pk), gold.truth,
                         spec=unit.task.recipe_version.spec)
    score = GoldScore.objects.create(organization_id=unit.organization_id, task=unit.task, work_item=unit,
                                     user_id=unit.assignee_id, score=result["score"], details=result)
    if unit.task.is_training:
        _maybe_qualify(task=unit.task, user_id=unit.assignee_id)
    evidence_recorded(task=unit.task, user_ids=[unit.assignee_id])
    return score


def _attempt_started(*, task: Task, user_id: int):
    """When the person's current attempt at a training task began: None for the first attempt; after a quality
    threshold revoked their qualification (apps.quality), its revocation time: the training is served again and
    only gold work done since counts. A plain failure is final, as before."""
    return (Qualification.objects.for_org(task.organization_id)
            .filter(training_task=task, user_id=user_id).values_list("revoked_at", flat=True).first())


def _maybe_qualify(*, task: Task, user_id: int) -> None:
    total = GoldItem.objects.for_org(task.organization_id).filter(task=task).count()
    scores = GoldScore.objects.for_org(task.organization_id).filter(task=task, user_id=user_id)
    started = _attempt_started(task=task, user_id=user_id)
    if started is not None:
        scores = scores.filter(work_item__created_at__gt=started)
    if total == 0 or scores.count() < total:
        return
    mean = scores.aggregate(mean=Avg("score"))["mean"]
    Qualification.objects.for_org(task.organization_id).update_or_create(
        training_task=task, user_id=user_id,
        defaults={"organization_id": task.organization_id, "score": mean, "passed": mean >= task.pass_threshold,
                  "at": timezone.now()})


def serve_gold(*, task: Task, user) -> WorkItem | None:
    """Queues a gold unit for this person (one they have not done), to be served before anything else: always in a
    training task, at the honeypot rate elsewhere. Returns it, or None."""
    if not task.is_training and (task.honeypot_rate <= 0 or random.random() >= task.honeypot_rate):  # noqa: S311
        return None
    org_id = task.organization_id
    done = WorkItem.objects.for_org(org_id).filter(task=task, assignee=user, is_gold=True)
    started = _attempt_started(task=task, user_id=user.pk) if task.is_training else None
    if started is not None:  # a retake: the gold items are served again
        done = done.filter(created_at__gt=started)
    done = done.values("item_id")
    gold = GoldItem.objects.for_org(org_id).filter(task=task).exclude(item_id__in=done).order_by("?").first()
    if gold is None:
        return None
    for _attempt in range(5):
        top = (WorkItem.objects.for_org(org_id).filter(task=task, item=gold.item, stage=WorkItem.Stage.ANNOTATE)
               .order_by("-slot").values_list("slot", flat=True).first())
        try:
            with transaction.atomic():
                return WorkItem.objects.create(
                    organization_id=org_id, task=task, item=gold.item, stage=WorkItem.Stage.ANNOTATE,
                    slot=max(top or 0, 99) + 1, assignee=user, is_gold=True, priority=task.priority + 1_000,
                    due_at=task.due_at)
        except IntegrityError:
            continue
    return None


def gold_mark(*, task: Task, item, truth: list[dict], actor) -> GoldItem:
    gold, _ = GoldItem.objects.for_org(task.organization_id).update_or_create(
        task=task, item=item, defaults={"organization_id": task.organization_id, "truth": truth, "created_by": actor})
    # The gold item's ordinary units leave the queue: it is served only as a honeypot.
    WorkItem.objects.for_org(task.organization_id).filter(task=task, item=item, is_gold=False,
                                                           state=WorkItem.State.QUEUED).update(
        state=WorkItem.State.CANCELLED)
    return gold


def qualified(*, task: Task, user) -> bool:
    if task.qualification_id is None:
        return True
    return Qualification.objects.for_org(task.organization_id).filter(
        training_task_id=task.qualification_id, user=user, passed=True).exists()
