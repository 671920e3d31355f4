"""Handing out units of work: pull (the next unit, SKIP LOCKED) and lease expiry.

Nobody gets a unit someone else holds: the pull locks the candidate row with FOR UPDATE SKIP LOCKED, so
concurrent pulls each take a different row without waiting on each other, and the database's constraints
(models.py) refuse what a race could still produce: a second lease for the same person, or two consensus
slots of one item for the same person. Such a refusal is retried, never served.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from .models import Task, TaskMember, WorkEvent, WorkItem

PULL_RETRIES = 5
EXPIRE_BATCH = 1_000


def _event(unit: WorkItem, actor, kind: str, **fields) -> WorkEvent:
    return WorkEvent(organization_id=unit.organization_id, task_id=unit.task_id, work_item=unit,
                     actor=actor if getattr(actor, "pk", None) else None, kind=kind, **fields)


def _current_lease(task: Task, user) -> WorkItem | None:
    return (WorkItem.objects.for_org(task.organization_id).select_related("item")
            .filter(task=task, assignee=user, state=WorkItem.State.LEASED).first())


def _candidates(task: Task, user, stage: str):
    units = WorkItem.objects.for_org(task.organization_id).filter(task=task, stage=stage)
    if stage == WorkItem.Stage.REVIEW:
        # A reviewer never reviews their own work (also a CHECK constraint).
        return units.filter(state=WorkItem.State.QUEUED).filter(
            Q(assignee__isnull=True) | Q(assignee=user)).exclude(annotator=user)
    same_item_mine = WorkItem.objects.filter(task_id=task.pk, item_id=OuterRef("item_id"), stage=stage,
                                             assignee=user)
    return (units.filter(Q(state=WorkItem.State.QUEUED, assignee__isnull=True)
                         | Q(state=WorkItem.State.QUEUED, assignee=user))
            .exclude(Exists(same_item_mine.exclude(pk=OuterRef("pk")))))


def pull_next(*, task: Task, user, stage: str, member: TaskMember) -> tuple[WorkItem | None, bool]:
    """(unit, resumed): the caller's current lease, their rejected work to fix, or the next queued unit."""
    now = timezone.now()
    for _attempt in range(PULL_RETRIES):
        try:
            with transaction.atomic():
                current = _current_lease(task, user)
                if current is not None and current.lease_expires_at > now:
                    current.lease_expires_at = now + timedelta(seconds=task.lease_seconds)
                    current.save(update_fields=["lease_expires_at"])
                    WorkEvent.objects.bulk_create([_event(current, user, WorkEvent.Kind.RESUMED)])
                    return current, True
                if current is not None:  # expired but not yet swept: give it back first
                    _release(current, user, WorkEvent.Kind.EXPIRED, now)
                unit = _rework(task, user, stage) or (
                    _candidates(task, user, stage).select_for_update(skip_locked=True, of=("self",))
                    .order_by("-priority", "due_at", "id").first()
                )
                if unit is None:
                    return None, False
                unit.state = WorkItem.State.LEASED
                unit.assignee = user
                unit.leased_at = now
                unit.lease_expires_at = now + timedelta(seconds=task.lease_seconds)
                unit.attempts += 1
                unit.version += 1
                unit.save(update_fields=["state", "assignee", "leased_at", "lease_expires_at", "attempts", "version"])
                WorkEvent.objects.bulk_create([_event(unit, user, WorkEvent.Kind.LEASED)])
                return WorkItem.objects.select_related("item").get(pk=unit.pk), False
        except IntegrityError:
            continue  # a concurrent pull of the same person won; look again
    return None, False


def _rework(task: Task, user, stage: str) -> WorkItem | None:
    """Rejected work goes back to the person who did it, before anything new."""
    if stage != WorkItem.Stage.ANNOTATE:
        return None
    return (WorkItem.objects.for_org(task.organization_id).select_for_update(skip_locked=True)
            .filter(task=task, stage=stage, state=WorkItem.State.REJECTED, assignee=user)
            .order_by("-priority", "due_at", "id").first())


def _release(unit: WorkItem, actor, kind: str, now) -> None:
    rejected_before = WorkEvent.objects.filter(work_item=unit, kind=WorkEvent.Kind.REJECTED).exists()
    unit.state = WorkItem.State.REJECTED if rejected_before else WorkItem.State.QUEUED
    if unit.state == WorkItem.State.QUEUED and unit.task.distribution == Task.Distribution.PULL:
        unit.assignee = None
    unit.lease_expires_at = None
    unit.version += 1
    unit.save(update_fields=["state", "assignee", "lease_expires_at", "version"])
    WorkEvent.objects.bulk_create([_event(unit, actor, kind, wall_seconds=(now - unit.leased_at).total_seconds()
                                          if unit.leased_at else 0)])


def expire_leases(*, org_id: int, limit: int = EXPIRE_BATCH) -> int:
    """Returns expired leases to the queue (or to their annotator, for rework); how many were released."""
    now = timezone.now()
    with transaction.atomic():
        units = list(WorkItem.objects.for_org(org_id).select_related("task").select_for_update(skip_locked=True)
                     .filter(state=WorkItem.State.LEASED, lease_expires_at__lte=now).order_by("lease_expires_at")
                     [:limit])
        for unit in units:
            _release(unit, None, WorkEvent.Kind.EXPIRED, now)
    return len(units)


def push_assign(*, task: Task, batch: int = 5_000) -> int:
    """Pre-assigns the task's unassigned queued units to its active annotators in proportion to their weights
    (smooth weighted round robin), never giving one person two slots of the same item. Returns how many."""
    members = list(TaskMember.objects.for_org(task.organization_id).filter(
        task=task, role=TaskMember.Role.ANNOTATOR, status=TaskMember.Status.ACTIVE).order_by("id"))
    if not members:
        return 0
    current = {m.user_id: 0.0 for m in members}
    total_weight = sum(m.weight for m in members)
    assigned = 0
    with transaction.atomic():
        units = list(WorkItem.objects.for_org(task.organization_id).select_for_update(skip_locked=True)
                     .filter(task=task, stage=WorkItem.Stage.ANNOTATE, state=WorkItem.State.QUEUED,
                             assignee__isnull=True).order_by("-priority", "due_at", "id")[:batch])
        taken = set(WorkItem.objects.for_org(task.organization_id).filter(
            task=task, stage=WorkItem.Stage.ANNOTATE, item_id__in={u.item_id for u in units},
            assignee__isnull=False).values_list("item_id", "assignee_id"))
        for unit in units:
            for m in members:
                current[m.user_id] += m.weight
            for m in sorted(members, key=lambda m: -current[m.user_id]):
                if (unit.item_id, m.user_id) not in taken:
                    unit.assignee_id = m.user_id
                    current[m.user_id] -= total_weight
                    taken.add((unit.item_id, m.user_id))
                    assigned += 1
                    break
        WorkItem.objects.bulk_update([u for u in units if u.assignee_id], ["assignee"])
    return assigned


def release_member_work(*, task: Task, user, actor) -> int:
    """A member leaves: their leased and pre-assigned queued units go back to the queue (rework included)."""
    with transaction.atomic():
        units = list(WorkItem.objects.for_org(task.organization_id).select_for_update().filter(
            task=task, assignee=user, state__in=[WorkItem.State.QUEUED, WorkItem.State.LEASED,
                                                 WorkItem.State.REJECTED]))
        for unit in units:
            unit.state, unit.assignee, unit.lease_expires_at = WorkItem.State.QUEUED, None, None
            unit.version += 1
        WorkItem.objects.bulk_update(units, ["state", "assignee", "lease_expires_at", "version"])
        WorkEvent.objects.bulk_create([_event(u, actor, WorkEvent.Kind.RELEASED, data={"from_user_id": user.pk})
                                       for u in units])
    return len(units)
