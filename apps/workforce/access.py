"""Fetch and authorise one task or unit of work; missing and forbidden are the same 404."""

from apps.core.ids import parse_id
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope

from .models import Task, TaskMember, WorkItem


def _is_member(task: Task, user) -> bool:
    return TaskMember.objects.for_org(task.organization_id).filter(
        task=task, user=user, status=TaskMember.Status.ACTIVE).exists()


def access_task(*, org, actor, task_id, scope: str = "task.view") -> Task:
    """task.view / task.manage by role; task.work needs the role's scope and membership of this task."""
    pk = parse_id(task_id)
    task = Task.objects.for_org(org).select_related("dataset", "recipe_version").filter(pk=pk).first() if pk else None
    allowed = task is not None and has_scope(org=org, actor=actor, scope=scope, obj=task)
    if allowed and scope == "task.work":
        allowed = _is_member(task, actor)
    if not allowed:
        deny_not_found(org=org, actor=actor, target_type="workforce.task", target_id=task_id, scope=scope)
    return task


def access_work_item(*, org, actor, unit_id, scope: str = "task.work") -> WorkItem:
    """A unit of a task the caller works on (or manages)."""
    pk = parse_id(unit_id)
    unit = WorkItem.objects.for_org(org).select_related("task", "item").filter(pk=pk).first() if pk else None
    allowed = unit is not None and (
        has_scope(org=org, actor=actor, scope="task.manage", obj=unit.task)
        or (has_scope(org=org, actor=actor, scope=scope, obj=unit.task) and _is_member(unit.task, actor))
    )
    if not allowed:
        deny_not_found(org=org, actor=actor, target_type="workforce.workitem", target_id=unit_id, scope=scope)
    return unit
