"""Writes of the quality app: a task's quality policy (window and thresholds), and the threshold actions taken when
an annotator's score falls below a threshold (evaluate_thresholds, called by the workforce after each gold score,
review decision and consensus result through apps.workforce.quality_hooks)."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.compliance.services import audit_record
from apps.tenancy.permissions import require_scope
from apps.workforce.models import Qualification, Task
from apps.workforce.services import task_member_pause

from . import events, scores
from .models import QualityAction, QualityPolicy, QualityThreshold

AUDIT_ACTIONS = {
    QualityThreshold.Action.WARN: "quality.warned",
    QualityThreshold.Action.PAUSE: "quality.member_paused",
    QualityThreshold.Action.REQUALIFY: "quality.requalification_required",
}


def _check_int(value, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError({path: f"A whole number from {low} to {high}."})
    return value


def quality_policy_set(*, org, actor, task: Task, window_units: int, window_days: int | None,
                       thresholds: list[dict]) -> QualityPolicy:
    """Sets the task's window and its thresholds (at most one per action; those not listed are removed). A threshold
    kept across the change keeps its open breaches, so changing a number never acts twice on the same breach."""
    require_scope(org=org, actor=actor, scope="task.manage")
    _check_int(window_units, "window_units", 1, 10_000)
    if window_days is not None:
        _check_int(window_days, "window_days", 1, 3650)
    seen = set()
    for i, t in enumerate(thresholds):
        if t.get("action") not in QualityThreshold.Action.values:
            raise ValidationError({f"thresholds.{i}.action": f"One of {', '.join(QualityThreshold.Action.values)}."})
        if t["action"] in seen:
            raise ValidationError({f"thresholds.{i}.action": "One threshold per action."})
        seen.add(t["action"])
        if t["action"] == QualityThreshold.Action.REQUALIFY and task.qualification_id is None:
            raise ValidationError({f"thresholds.{i}.action": "This task requires no qualification to revoke."})
        score = t.get("min_score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            raise ValidationError({f"thresholds.{i}.min_score": "A number from 0 to 1."})
        _check_int(t.get("min_samples", 10), f"thresholds.{i}.min_samples", 1, 10_000)
    with transaction.atomic():
        before = quality_policy_describe(task=task)
        policy, _ = QualityPolicy.objects.for_org(org).update_or_create(
            task=task, defaults={"organization_id": org.pk, "window_units": window_units,
                                 "window_days": window_days})
        QualityThreshold.objects.for_org(org).filter(task=task).exclude(action__in=seen).delete()
        for t in thresholds:
            QualityThreshold.objects.for_org(org).update_or_create(
                task=task, action=t["action"],
                defaults={"organization_id": org.pk, "min_score": float(t["min_score"]),
                          "min_samples": t.get("min_samples", 10)})
        audit_record(org=org, actor=actor, action="quality.policy_changed", target=task, before=before,
                     after=quality_policy_describe(task=task))
    return policy


def quality_policy_describe(*, task: Task) -> dict:
    window = scores.task_window(task)
    thresholds = QualityThreshold.objects.for_org(task.organization_id).filter(task=task).order_by("action")
    return {"window_units": window.units, "window_days": window.days,
            "thresholds": [{"action": t.action, "min_score": t.min_score, "min_samples": t.min_samples}
                           for t in thresholds]}


def evaluate_thresholds(*, task: Task, user_ids: list[int]) -> list[QualityAction]:
    """Acts on every breach of the task's thresholds by these people: a score below min_score over at least
    min_samples samples, with no open action for that threshold and person (the partial unique constraint makes
    a second act on the same breach impossible, concurrent evaluations included). A score back at or above the
    threshold closes the open breach. Runs inside the caller's transaction; returns the actions taken."""
    org_id = task.organization_id
    thresholds = list(QualityThreshold.objects.for_org(org_id).filter(task=task))
    if not thresholds:
        return []
    current = scores.scores(org_id=org_id, task=task, user_ids=user_ids)
    open_breaches = {(a.threshold_id, a.user_id): a for a in QualityAction.objects.for_org(org_id).filter(
        task=task, user_id__in=user_ids, resolved_at__isnull=True)}
    taken = []
    for user_id in user_ids:
        score = current[user_id]
        for threshold in thresholds:
            open_ = open_breaches.get((threshold.pk, user_id))
            if score.score is None or score.samples < threshold.min_samples:
                continue
            if score.score >= threshold.min_score:
                if open_ is not None:
                    open_.resolved_at = timezone.now()
                    open_.save(update_fields=["resolved_at"])
                continue
            if open_ is None:
                action = _act(task=task, threshold=threshold, user_id=user_id, score=score)
                if action is not None:
                    taken.append(action)
    return taken


def _act(*, task: Task, threshold: QualityThreshold, user_id: int, score: scores.Score) -> QualityAction | None:
    try:
        with transaction.atomic():
            action = QualityAction.objects.create(
                organization_id=task.organization_id, threshold=threshold, task=task, user_id=user_id,
                action=threshold.action, score=score.score, samples=score.samples)
    except IntegrityError:  # another evaluation acted on this breach first
        return None
    outcome = {}
    if threshold.action == QualityThreshold.Action.PAUSE:
        outcome["paused"] = task_member_pause(task=task, user=action.user)
    elif threshold.action == QualityThreshold.Action.REQUALIFY:
        outcome["revoked"] = bool(task.qualification_id) and Qualification.objects.for_org(
            task.organization_id).filter(training_task_id=task.qualification_id, user_id=user_id,
                                         passed=True).update(passed=False, revoked_at=timezone.now()) > 0
    audit_record(org=task.organization_id, actor=None, action=AUDIT_ACTIONS[threshold.action], target=task,
                 metadata={"user_id": user_id, "score": round(score.score, 4), "samples": score.samples,
                           "low": round(score.low, 4), "high": round(score.high, 4),
                           "min_score": threshold.min_score, "min_samples": threshold.min_samples, **outcome})
    events.threshold_acted(action)
    return action
