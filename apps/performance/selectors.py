"""Reads of the performance app (the work-event aggregation itself is in reports.py)."""

import pandas as pd
from django.contrib.auth import get_user_model
from django.db.models import Count

from apps.workforce.models import ReviewComment, Task, TaskMember, WorkEvent, WorkItem

STAGE_ROLE = {"annotate": TaskMember.Role.ANNOTATOR, "review": TaskMember.Role.REVIEWER}


def _members(*, org_id: int, task_id: int | None, stage: str):
    members = TaskMember.objects.for_org(org_id).filter(role=STAGE_ROLE[stage])
    return members.filter(task_id=task_id) if task_id is not None else members


def member_rates(*, org_id: int, task_id: int | None, stage: str) -> pd.DataFrame:
    """(task, person, rate, currency) of every membership in the stage's role that has an hourly rate."""
    rows = list(_members(org_id=org_id, task_id=task_id, stage=stage).filter(hourly_rate__isnull=False)
                .values_list("task_id", "user_id", "hourly_rate", "currency"))
    frame = pd.DataFrame(rows, columns=["task", "person", "rate", "currency"])
    frame["task"] = frame["task"].astype("int64")
    frame["person"] = frame["person"].astype("int64")
    frame["rate"] = frame["rate"].astype("float64")
    return frame


def member_ids(*, org_id: int, task_id: int | None, stage: str, person_id: int | None = None) -> list[int]:
    """People who are (or were, unless removed) members in the stage's role: they show in a report even with no
    work yet."""
    members = _members(org_id=org_id, task_id=task_id, stage=stage).exclude(status=TaskMember.Status.REMOVED)
    if person_id is not None:
        members = members.filter(user_id=person_id)
    return sorted(set(members.values_list("user_id", flat=True)))


def task_ids(*, org_id: int, task_id: int | None = None, member_id: int | None = None,
             stage: str = "annotate") -> list[int]:
    tasks = Task.objects.for_org(org_id)
    if task_id is not None:
        tasks = tasks.filter(pk=task_id)
    if member_id is not None:
        tasks = tasks.filter(pk__in=_members(org_id=org_id, task_id=task_id, stage=stage)
                             .filter(user_id=member_id).values("task_id"))
    return list(tasks.order_by("id").values_list("id", flat=True))


def person_labels(*, ids) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=list(ids)).values_list("pk", "full_name", "email")
    return {pk: full_name or email for pk, full_name, email in users}


def task_labels(*, org_id: int, ids) -> dict[int, str]:
    return dict(Task.objects.for_org(org_id).filter(pk__in=list(ids)).values_list("pk", "name"))


def task_progress(*, task: Task) -> dict:
    """Units of the task by stage and state, and how many annotate units are finished (done or approved, as on
    the task board)."""
    rows = (WorkItem.objects.for_org(task.organization_id).filter(task=task).values("stage", "state")
            .annotate(n=Count("id")).order_by())
    states: dict[str, dict[str, int]] = {stage: {} for stage in WorkItem.Stage.values}
    for row in rows:
        states[row["stage"]][row["state"]] = row["n"]
    annotate = states[WorkItem.Stage.ANNOTATE]
    total = sum(n for state, n in annotate.items() if state != WorkItem.State.CANCELLED)
    finished = sum(annotate.get(s, 0) for s in (WorkItem.State.APPROVED, WorkItem.State.DONE))  # as the board
    return {"units_total": total, "units_finished": finished, "states": states,
            "due_at": task.due_at.isoformat() if task.due_at else None,
            "created_at": task.created_at.isoformat()}


def recent_feedback(*, org_id: int, user_id: int, limit: int = 10) -> list[dict]:
    """The latest rejections of a person's work, with the reviewers' comments on those units."""
    rejected = list(WorkEvent.objects.for_org(org_id)
                    .filter(kind=WorkEvent.Kind.REJECTED, work_item__stage=WorkItem.Stage.ANNOTATE,
                            work_item__assignee_id=user_id)
                    .select_related("task", "work_item__item").order_by("-at", "-id")[:limit])
    comments: dict[int, list[str]] = {}
    for unit_id, text in (ReviewComment.objects.for_org(org_id)
                          .filter(work_item_id__in=[e.work_item_id for e in rejected])
                          .order_by("created_at", "id").values_list("work_item_id", "text")):
        comments.setdefault(unit_id, []).append(text)
    return [{"at": e.at, "task": e.task.name, "task_id": e.task_id, "unit_id": e.work_item_id,
             "item": e.work_item.item.name, "comments": comments.get(e.work_item_id, [])} for e in rejected]


def task_member_for_update(*, org_id: int, task: Task, user_id: int, role: str) -> TaskMember | None:
    return (TaskMember.objects.for_org(org_id).select_for_update()
            .filter(task=task, user_id=user_id, role=role).first())
