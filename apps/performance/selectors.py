"""Reads of the performance app (the work-event aggregation itself is in reports.py)."""

from datetime import UTC

import pandas as pd
from django.contrib.auth import get_user_model
from django.db.models import Count

from apps.workforce.models import ReviewComment, ReviewRound, Task, TaskMember, WorkEvent, WorkItem

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


OTHER_REASON = "Other"
_ROUND_BATCH = 5_000


def rejection_reasons(*, org_id: int, group: str, stage: str = "annotate", task_id: int | None = None,
                      person_id: int | None = None, start_at=None, end_at=None) -> dict:
    """Why work was rejected: {group key: {reason: rejections}}, most frequent first. A rejection (one review round)
    counts once for each of its recipe's review.reject_reasons that one of the round's comments names (the studio's
    reason buttons put the reason's words in the comment; case is ignored), or once as "Other" when none does.
    Keys: the annotator whose work it was (annotator group, or the task/day groups of the annotate stage), the
    reviewer who decided (reviewer group or the review stage), the task, or the UTC day of the decision."""
    rounds = ReviewRound.objects.for_org(org_id).filter(decision=ReviewRound.Decision.REJECTED)
    person_field = "reviewer_id" if group == "reviewer" or (group not in ("annotator",) and stage == "review") \
        else "work_item__assignee_id"
    if task_id is not None:
        rounds = rounds.filter(work_item__task_id=task_id)
    if person_id is not None:
        rounds = rounds.filter(**{person_field: person_id})
    if start_at is not None:
        rounds = rounds.filter(decided_at__gte=start_at)
    if end_at is not None:
        rounds = rounds.filter(decided_at__lt=end_at)
    rows = list(rounds.order_by("id").values_list("id", person_field, "work_item__task_id", "decided_at"))
    reasons_of = {pk: [r for r in ((spec or {}).get("review") or {}).get("reject_reasons") or [] if r]
                  for pk, spec in Task.objects.for_org(org_id).filter(pk__in={r[2] for r in rows})
                  .values_list("pk", "recipe_version__spec")}
    out: dict = {}
    for start in range(0, len(rows), _ROUND_BATCH):
        batch = rows[start:start + _ROUND_BATCH]
        texts: dict[int, list[str]] = {}
        for round_id, text in (ReviewComment.objects.for_org(org_id).filter(round_id__in=[r[0] for r in batch])
                               .values_list("round_id", "text")):
            texts.setdefault(round_id, []).append(text.casefold())
        for round_id, person, task, decided_at in batch:
            key = {"task": task, "day": decided_at.astimezone(UTC).date().isoformat()}.get(group, person)
            if key is None:
                continue
            said = texts.get(round_id, [])
            named = [r for r in reasons_of.get(task, []) if any(r.casefold() in t for t in said)] or [OTHER_REASON]
            counts = out.setdefault(key, {})
            for reason in named:
                counts[reason] = counts.get(reason, 0) + 1
    return {key: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) for key, counts in out.items()}
