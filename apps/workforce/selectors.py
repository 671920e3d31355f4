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


_WORK_ROLES_ATTR = "_caller_work_roles"


def remember_work_roles(*, task: Task, user, roles: set[str]) -> None:
    """Keeps on the task object the roles `user` actively holds in it, as access_task just read them, so that the
    same request does not ask again (task_member_has_role)."""
    setattr(task, _WORK_ROLES_ATTR, (user.pk, frozenset(roles)))


def task_member_has_role(*, task: Task, user, role: str) -> bool:
    """Is `user` an active member of the task in this role? Answered from what access_task read for this user in
    this request when it can be, else from the database."""
    known = getattr(task, _WORK_ROLES_ATTR, None)
    if known is not None and known[0] == user.pk:
        return role in known[1]
    return task_member(task=task, user=user, role=role) is not None


def review_comments(*, unit: WorkItem):
    """Comments on the annotate unit (for a review unit: on the work it reviews), round by round, oldest first."""
    from .models import ReviewComment

    target = unit.reviews_id if unit.stage == WorkItem.Stage.REVIEW else unit.pk
    return (ReviewComment.objects.for_org(unit.organization_id).filter(work_item_id=target)
            .select_related("author", "round", "round__reviewer").order_by("round__number", "created_at", "id"))


def task_get(*, org_id: int, task_id: int) -> Task | None:
    return Task.objects.for_org(org_id).select_related("dataset", "organization").filter(pk=task_id).first()


# --- Reads of the workforce pages (My work, task list, task board, work log) ----------------------------------

def my_task_memberships(*, org, user):
    """The caller's active roles in the organisation's tasks that are not done, most urgent first."""
    return (TaskMember.objects.for_org(org).filter(user=user, status=TaskMember.Status.ACTIVE)
            .exclude(task__status=Task.Status.DONE).select_related("task", "task__dataset")
            .order_by("-task__priority", "task__due_at", "task_id", "role"))


def task_unit_counts(*, org, task_ids, user=None) -> dict[int, dict[str, dict[str, int]]]:
    """Units per task, stage and state in one query: {task_id: {"annotate": {"queued": 3, ...}, "review": {...}}};
    only the units `user` holds or did, when given."""
    units = WorkItem.objects.for_org(org).filter(task_id__in=list(task_ids))
    if user is not None:
        units = units.filter(assignee=user)
    out: dict[int, dict[str, dict[str, int]]] = {tid: {s: {} for s in WorkItem.Stage.values} for tid in task_ids}
    for row in units.values("task_id", "stage", "state").annotate(n=Count("id")).order_by():
        out[row["task_id"]][row["stage"]][row["state"]] = row["n"]
    return out


def work_history(*, org, user, limit: int = 30) -> list:
    """The caller's recent annotate work: what they submitted and how reviewers decided on it, newest first."""
    from django.db.models import Q

    from .models import WorkEvent

    Kind = WorkEvent.Kind
    return list(WorkEvent.objects.for_org(org)
                .filter(work_item__assignee=user, work_item__stage=WorkItem.Stage.ANNOTATE)
                .filter(Q(kind=Kind.SUBMITTED, actor=user) | Q(kind__in=[Kind.APPROVED, Kind.REJECTED]))
                .select_related("task", "work_item__item").order_by("-at", "-id")[:limit])


def comments_on_units(*, org, unit_ids) -> list:
    """Review comments on these annotate units, oldest first (one query)."""
    from .models import ReviewComment

    return list(ReviewComment.objects.for_org(org).filter(work_item_id__in=list(unit_ids))
                .select_related("author", "round").order_by("created_at", "id"))


def task_member_stats(*, task: Task) -> dict[int, dict[str, float]]:
    """Per person of the task, from the units and the work log (three queries): units held now (leased, queued
    for them, rejected to fix), annotate units submitted, approved and rejected, reviews done, active seconds."""
    from django.db.models import Q, Sum

    from .models import WorkEvent

    org_id, Kind, Stage = task.organization_id, WorkEvent.Kind, WorkItem.Stage
    zero = {"leased": 0, "queued": 0, "to_fix": 0, "submitted": 0, "approved": 0, "rejected": 0, "reviewed": 0,
            "active_seconds": 0.0}
    stats: dict[int, dict[str, float]] = {}

    def of(user_id):
        return stats.setdefault(user_id, dict(zero))

    held = {WorkItem.State.LEASED: "leased", WorkItem.State.QUEUED: "queued", WorkItem.State.REJECTED: "to_fix"}
    for row in (WorkItem.objects.for_org(org_id).filter(task=task, assignee__isnull=False, state__in=list(held))
                .values("assignee_id", "state").annotate(n=Count("id")).order_by()):
        of(row["assignee_id"])[held[row["state"]]] = row["n"]
    events = WorkEvent.objects.for_org(org_id).filter(task=task)
    decided = Q(kind__in=[Kind.APPROVED, Kind.REJECTED])
    for row in (events.filter(actor__isnull=False).values("actor_id").order_by().annotate(
            submitted=Count("id", filter=Q(kind=Kind.SUBMITTED, work_item__stage=Stage.ANNOTATE)),
            reviewed=Count("id", filter=decided & Q(work_item__stage=Stage.REVIEW)),
            active=Sum("active_seconds", filter=Q(kind=Kind.HEARTBEAT)))):
        person = of(row["actor_id"])
        person["submitted"], person["reviewed"] = row["submitted"], row["reviewed"]
        person["active_seconds"] = row["active"] or 0.0
    for row in (events.filter(decided, work_item__stage=Stage.ANNOTATE, work_item__assignee__isnull=False)
                .values("work_item__assignee_id", "kind").annotate(n=Count("id")).order_by()):
        of(row["work_item__assignee_id"])[row["kind"]] = row["n"]
    return stats


def task_units_in_progress(*, task: Task, limit: int = 50):
    """Units someone holds now (leased, pre-assigned, rejected to fix): what a manager may reassign."""
    return (WorkItem.objects.for_org(task.organization_id)
            .filter(task=task, assignee__isnull=False,
                    state__in=[WorkItem.State.LEASED, WorkItem.State.QUEUED, WorkItem.State.REJECTED])
            .select_related("item", "assignee").order_by("state", "id")[:limit])


def task_worklog_page(*, task: Task, after_id: int = 0, size: int = 2_000) -> list[tuple]:
    """One keyset page of the task's work log as tuples (id, at, kind, actor email, unit id, stage, item id,
    item name, active seconds, wall seconds, data), in the order it was written."""
    from .models import WorkEvent

    return list(WorkEvent.objects.for_org(task.organization_id).filter(task=task, id__gt=after_id).order_by("id")
                .values_list("id", "at", "kind", "actor__email", "work_item_id", "work_item__stage",
                             "work_item__item_id", "work_item__item__name", "active_seconds", "wall_seconds",
                             "data")[:size])


def recipe_versions_for_tasks(*, org, limit: int = 300) -> list[dict]:
    """Published recipe versions a new task may pin: [{id, recipe name, number}], by recipe then newest."""
    from apps.recipes.models import RecipeVersion

    return list(RecipeVersion.objects.for_org(org).order_by("recipe__name", "recipe_id", "-number")
                .values("id", "recipe__name", "number")[:limit])


def dataset_default_versions(*, org, dataset_ids) -> dict[int, int]:
    """{dataset id: the recipe version a task on it pins by default (its recipe's latest)} in two queries."""
    from apps.recipes.models import DatasetRecipe, RecipeVersion

    recipe_of = dict(DatasetRecipe.objects.for_org(org).filter(dataset_id__in=list(dataset_ids))
                     .values_list("dataset_id", "recipe_id"))
    latest: dict[int, int] = {}
    for recipe_id, version_id in (RecipeVersion.objects.for_org(org).filter(recipe_id__in=set(recipe_of.values()))
                                  .order_by("recipe_id", "number").values_list("recipe_id", "id")):
        latest[recipe_id] = version_id  # ascending numbers: the last one seen is the latest
    return {dataset_id: latest[recipe_id] for dataset_id, recipe_id in recipe_of.items() if recipe_id in latest}


def unit_was_rejected(*, unit: WorkItem) -> bool:
    """Whether this unit's work was ever sent back by a reviewer (fixed work is re-reviewed; a released lease of
    such a unit goes back to its annotator)."""
    from .models import WorkEvent

    return WorkEvent.objects.for_org(unit.organization_id).filter(
        work_item=unit, kind=WorkEvent.Kind.REJECTED).exists()


SUGGESTION_FIELDS = ("id", "type", "label", "attributes", "geometry", "z_order", "frame", "source", "review_state",
                     "confidence")


def unit_suggestions(*, unit: WorkItem) -> list[dict]:
    """The model suggestions (proposed annotations) among the shared annotations of an annotate unit's item."""
    from apps.annotations.selectors import annotation_list

    if unit.stage != WorkItem.Stage.ANNOTATE:
        return []
    return list(annotation_list(org=unit.organization_id, item=unit.item, layer=None)
                .filter(review_state="proposed").values(*SUGGESTION_FIELDS))
