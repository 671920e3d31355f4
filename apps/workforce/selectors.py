"""Reads of the workforce app."""

from django.db.models import Count

from .models import Task, TaskMember, WorkItem


def task_list(*, org):
    return Task.objects.for_org(org).select_related("dataset", "recipe_version").order_by("-created_at", "-id")


def task_member(*, task: Task, user, role: str | None = None) -> TaskMember | None:
    members = TaskMember.objects.for_org(task.organization_id).filter(task=task, user=user,
                                                                      status=TaskMember.Status.ACTIVE)
    if role is not None:
        members = members.filter(role=role)
    return members.first()


def task_members(*, task: Task):
    return TaskMember.objects.for_org(task.organization_id).filter(task=task).select_related("user").order_by("id")


def task_counts(*, task: Task) -> dict[str, dict[str, int]]:
    """Units per stage and state: {"annotate": {"queued": 10, ...}, "review": {...}}."""
    rows = (WorkItem.objects.for_org(task.organization_id).filter(task=task).values("stage", "state")
            .annotate(n=Count("id")).order_by())
    out: dict[str, dict[str, int]] = {stage: {} for stage in WorkItem.Stage.values}
    for row in rows:
        out[row["stage"]][row["state"]] = row["n"]
    return out


def work_item_get(*, org_id: int, unit_id: int) -> WorkItem | None:
    return WorkItem.objects.for_org(org_id).select_related("task", "item").filter(pk=unit_id).first()


def organisations_with_expired_leases() -> list[int]:
    """Across organisations (the periodic sweep only): which have leases past their expiry."""
    from django.utils import timezone

    from apps.tenancy.context import system_context

    with system_context():
        return list(WorkItem.objects.filter(state=WorkItem.State.LEASED, lease_expires_at__lte=timezone.now())
                    .values_list("organization_id", flat=True).distinct().order_by())
