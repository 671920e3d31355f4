"""Reads of the quality app: annotator scores per task and overall (computed on read, scores.py)."""

from apps.workforce.models import Task, TaskMember

from . import scores
from .services import quality_policy_describe


def task_quality(*, org, task: Task) -> dict:
    """The task's window and thresholds, and one row per annotator member (any status) with their score."""
    members = list(TaskMember.objects.for_org(org).filter(task=task, role=TaskMember.Role.ANNOTATOR)
                   .select_related("user").order_by("id"))
    found = scores.scores(org_id=task.organization_id, task=task, user_ids=[m.user_id for m in members])
    return {**quality_policy_describe(task=task),
            "results": [{**found[m.user_id].as_dict(), "email": m.user.email, "member_status": m.status}
                        for m in members]}


def own_quality(*, org, user) -> dict:
    """The caller's overall score and one per task they annotate (or have samples on), newest task first."""
    task_ids = set(TaskMember.objects.for_org(org).filter(user=user, role=TaskMember.Role.ANNOTATOR)
                   .values_list("task_id", flat=True))
    tasks = Task.objects.for_org(org).filter(pk__in=task_ids).order_by("-created_at", "-id")
    overall = scores.scores(org_id=_org_id(org), user_ids=[user.pk])[user.pk]
    per_task = []
    for task in tasks:
        score = scores.scores(org_id=task.organization_id, task=task, user_ids=[user.pk])[user.pk].as_dict()
        per_task.append({"task_id": task.pk, "task_name": task.name, **score})
    return {"overall": overall.as_dict(), "tasks": per_task}


def quality_source(*, org_id: int, task_id: int | None, user_ids: list) -> dict:
    """The performance reports' quality source (apps.performance.reports.register_quality_source): {user_id: score}
    for the people who have a score, on the task or overall."""
    task = Task.objects.for_org(org_id).filter(pk=task_id).first() if task_id is not None else None
    if task_id is not None and task is None:
        return {}
    people = [int(u) for u in user_ids if str(u).isdigit()]  # the report's index: numpy integers
    if not people:
        return {}
    found = scores.scores(org_id=org_id, task=task, user_ids=people)
    return {u: s.score for u, s in found.items() if s.score is not None}


def _org_id(org) -> int:
    from apps.tenancy.ids import org_id_of

    return org_id_of(org)
