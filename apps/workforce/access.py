"""Fetch and authorise one task or unit of work; missing and forbidden are the same 404."""

from django.db.models.expressions import RawSQL

from apps.core.ids import parse_id
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope

from .models import Task, TaskMember, WorkItem
from .selectors import remember_work_roles


def _active_membership(actor, task_id_column: str, role: str | None = None) -> RawSQL:
    """Is the actor an active member (in this role) of the task whose id is in `task_id_column` of the outer query?
    Plain SQL: the ORM takes longer to build an Exists subquery than the database to answer it, on every request."""
    sql = (f"EXISTS (SELECT 1 FROM workforce_taskmember m WHERE m.task_id = {task_id_column} AND m.user_id = %s"
           " AND m.status = %s" + (" AND m.role = %s)" if role else ")"))
    # The SQL is this module's own (task_id_column too); the values are bound parameters.
    return RawSQL(sql, [actor.pk, str(TaskMember.Status.ACTIVE), *([str(role)] if role else [])])  # noqa: S611


def _one(queryset):
    """The row of a filter on a unique key, or None. (first() would add an ORDER BY, which takes longer to compile
    than the query takes to run.)"""
    return next(iter(queryset[:1]), None)


def access_task(*, org, actor, task_id, scope: str = "task.view") -> Task:
    """task.view / task.manage by role; task.work needs the role's scope and membership of this task."""
    pk = parse_id(task_id)
    tasks = Task.objects.for_org(org).filter(pk=pk)
    if scope == "task.work" and getattr(actor, "pk", None) is not None:
        # A worker's call (the pull path): the caller's task roles come with the task, and task_next reads them
        # rather than asking again; the dataset and recipe version are not needed there.
        tasks = tasks.annotate(**{f"works_as_{role}": _active_membership(actor, "workforce_task.id", role)
                                  for role in TaskMember.Role.values})
    else:
        tasks = tasks.select_related("dataset", "recipe_version")
    task = _one(tasks) if pk else None
    allowed = task is not None and has_scope(org=org, actor=actor, scope=scope, obj=task)
    if allowed and scope == "task.work":
        roles = {role for role in TaskMember.Role.values if getattr(task, f"works_as_{role}", False)}
        remember_work_roles(task=task, user=actor, roles=roles)
        allowed = bool(roles)
    if not allowed:
        deny_not_found(org=org, actor=actor, target_type="workforce.task", target_id=task_id, scope=scope)
    return task


def access_work_item(*, org, actor, unit_id, scope: str = "task.work") -> WorkItem:
    """A unit of a task the caller works on (or manages)."""
    pk = parse_id(unit_id)
    unit = None
    if pk and getattr(actor, "pk", None) is not None:
        unit = _one(WorkItem.objects.for_org(org).select_related("task", "item").filter(pk=pk)
                    .annotate(caller_is_member=_active_membership(actor, "workforce_workitem.task_id")))
    allowed = unit is not None and (
        has_scope(org=org, actor=actor, scope="task.manage", obj=unit.task)
        or (has_scope(org=org, actor=actor, scope=scope, obj=unit.task) and unit.caller_is_member)
    )
    if not allowed:
        deny_not_found(org=org, actor=actor, target_type="workforce.workitem", target_id=unit_id, scope=scope)
    return unit
