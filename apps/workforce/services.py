"""Writes of the workforce app on tasks: creating one, its members and status, its gold items and its items.

Each checks task.manage and records its audit event in the same transaction (task_member_pause, the quality
thresholds' action, leaves both to its caller). The unit state machine (lease, submit, review, skip, heartbeat,
reassign) is unit_services.py.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from apps.compliance.services import audit_record
from apps.datasets.query import compile_filter
from apps.datasets.selectors import item_list
from apps.tenancy.permissions import require_scope

from . import events as events_
from . import routing
from .distribution import _event
from .models import Task, TaskMember, WorkEvent, WorkItem

TASK_FIELDS = ("name", "query", "live", "distribution", "consensus", "review_ratio", "honeypot_rate", "priority",
               "due_at", "annotator_cap", "lease_seconds", "is_training", "pass_threshold")


def task_create(*, org, actor, dataset, recipe_version, name: str, members=(), **settings_) -> Task:
    """Creates the task and one unit per matching item and consensus slot; `members` are
    {"user_id", "role", "weight"} of people of this organisation."""
    require_scope(org=org, actor=actor, scope="task.manage")
    people = _resolve_members(org, members)
    unknown = set(settings_) - set(TASK_FIELDS)
    if unknown:
        raise ValidationError({k: "Unknown task setting." for k in sorted(unknown)})
    query = settings_.get("query") or {}
    condition = compile_filter(query)  # raises QueryError naming the bad path
    task = Task(organization_id=org.pk, dataset=dataset, recipe_version=recipe_version, name=(name or "").strip(),
                created_by=actor, **settings_)
    if task.live:  # later items join through live.sync_live_task; these are the ones seen now
        task.live_cursor = item_list(dataset=dataset).aggregate(top=Max("id"))["top"] or 0
    task.full_clean(exclude=["organization", "created_by", "dataset", "recipe_version", "qualification"],
                    validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            task.save()
            count = _create_units(task=task, items=item_list(dataset=dataset).filter(condition))
            TaskMember.objects.bulk_create([
                TaskMember(organization_id=org.pk, task=task, user=user, role=m["role"], weight=m.get("weight", 1.0))
                for user, m in people])
            if task.distribution == Task.Distribution.PUSH:
                from .distribution import push_assign

                while push_assign(task=task):
                    pass
            audit_record(org=org, actor=actor, action="task.created", target=task,
                         after={"dataset_id": dataset.pk, "recipe_version_id": recipe_version.pk, "query": query,
                                "units": count, "consensus": task.consensus, "review_ratio": task.review_ratio,
                                "members": [{"user_id": u.pk, "role": m["role"]} for u, m in people]})
    except IntegrityError as exc:
        if "task_name_unique_in_org" in str(exc):
            raise ValidationError({"name": f"A task named {task.name!r} already exists."}) from None
        raise ValidationError({"non_field_errors": "These settings are out of range."}) from None
    return task


def _resolve_members(org, members) -> list:
    from apps.tenancy.selectors import membership_get_by_user_id

    people, seen = [], set()
    for i, member in enumerate(members):
        membership = membership_get_by_user_id(org=org, user_id=member.get("user_id"))
        if membership is None:
            raise ValidationError({f"members.{i}.user_id": "Not a member of this organisation."})
        if member.get("role") not in TaskMember.Role.values:
            raise ValidationError({f"members.{i}.role": f"One of {', '.join(TaskMember.Role.values)}."})
        if (membership.user_id, member["role"]) in seen:
            raise ValidationError({f"members.{i}.user_id": "This person is listed twice in this role."})
        seen.add((membership.user_id, member["role"]))
        people.append((membership.user, member))
    return people


def _create_units(*, task: Task, items) -> int:
    """One unit per (item, consensus slot), inserted set-based: a 100,000-item task is one statement."""
    if connection.vendor != "postgresql":  # the embedded demo (SQLite): a few dozen items
        units = [WorkItem(organization_id=task.organization_id, task=task, item_id=item_id, slot=slot,
                          priority=task.priority, due_at=task.due_at)
                 for item_id in items.values_list("id", flat=True) for slot in range(task.consensus)]
        return len(WorkItem.objects.bulk_create(units, ignore_conflicts=True))
    item_sql, params = items.order_by().values("id").query.sql_with_params()
    table = WorkItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (organization_id, task_id, item_id, stage, slot, state, priority, due_at,
                                     is_gold, attempts, active_seconds, version, created_at)
                SELECT %s, %s, i.id, 'annotate', s.slot, 'queued', %s, %s, false, 0, 0, 1, now()
                FROM ({item_sql}) AS i CROSS JOIN generate_series(0, %s - 1) AS s(slot)
                ON CONFLICT DO NOTHING""",
            [task.organization_id, task.pk, task.priority, task.due_at, *params, task.consensus],
        )
        return cursor.rowcount


def org_user(org, user_id):
    """The user behind `user_id` if they are a member of this organisation; a ValidationError on user_id if not."""
    from apps.tenancy.selectors import membership_get_by_user_id

    membership = membership_get_by_user_id(org=org, user_id=user_id) if user_id is not None else None
    if membership is None:
        raise ValidationError({"user_id": "Not a member of this organisation."})
    return membership.user


def task_member_add(*, org, actor, task: Task, user_id: int, role: str, weight: float = 1.0) -> TaskMember:
    require_scope(org=org, actor=actor, scope="task.manage")
    user = org_user(org, user_id)
    with transaction.atomic():
        before = (TaskMember.objects.for_org(org).filter(task=task, user=user, role=role)
                  .values("weight", "status").first())
        member, _ = TaskMember.objects.for_org(org).update_or_create(
            task=task, user=user, role=role,
            defaults={"organization_id": org.pk, "weight": weight, "status": TaskMember.Status.ACTIVE})
        audit_record(org=org, actor=actor, action="task.member_added", target=task, before=before,
                     metadata={"user_id": user.pk, "role": role, "weight": weight})
        events_.task_changed(task, event="task.members_changed")
        joined_or_reweighted = before is None or before["status"] != TaskMember.Status.ACTIVE or (
            before["weight"] != member.weight)
        if role == TaskMember.Role.ANNOTATOR and joined_or_reweighted:
            _push_rebalance(org=org, actor=actor, task=task, why="member joined" if before is None or before[
                "status"] != TaskMember.Status.ACTIVE else "weight changed", user_id=user.pk)
    return member


def _push_rebalance(*, org, actor, task: Task, why: str, user_id: int) -> None:
    """Push mode: the queued work nobody has started is spread again by weight (distribution.push_rebalance)."""
    from .distribution import push_rebalance

    if task.distribution != Task.Distribution.PUSH:
        return
    counts = push_rebalance(task=task, actor=actor)
    if counts["moved"] or counts["assigned"]:
        audit_record(org=org, actor=actor, action="task.work_rebalanced", target=task,
                     metadata={"reason": why, "user_id": user_id, **counts})
        events_.task_changed(task, event="task.rebalanced")


def task_set_status(*, org, actor, task: Task, status: str) -> Task:
    require_scope(org=org, actor=actor, scope="task.manage")
    if status not in (Task.Status.ACTIVE, Task.Status.PAUSED):
        raise ValidationError({"status": "A task is resumed (active) or paused."})
    with transaction.atomic():
        before = task.status
        task.status = status
        task.save(update_fields=["status", "updated_at"])
        audit_record(org=org, actor=actor, action="task.status_changed", target=task, before={"status": before},
                     after={"status": status})
        events_.task_changed(task)
    return task


def task_gold_add(*, org, actor, task: Task, item) -> "routing.GoldItem":
    """Marks an item of the task's dataset as gold, its current shared annotations being the truth."""
    from apps.annotations.selectors import layer_contents

    require_scope(org=org, actor=actor, scope="task.manage")
    if item.dataset_id != task.dataset_id:
        raise ValidationError({"item_id": "The item is not in this task's dataset."})
    truth = layer_contents(org=org, item=item, layer=None)
    if not truth:
        raise ValidationError({"item_id": "Annotate the item first: its annotations become the right answer."})
    with transaction.atomic():
        gold = routing.gold_mark(task=task, item=item, truth=truth, actor=actor)
        audit_record(org=org, actor=actor, action="task.gold_added", target=task,
                     metadata={"item_id": item.pk, "annotations": len(truth)})
    return gold


def task_member_remove(*, org, actor, task: Task, user_id: int) -> int:
    """Removes a person from the task; their queued and leased work is redistributed. Returns units released."""
    from .distribution import release_member_work

    require_scope(org=org, actor=actor, scope="task.manage")
    user = org_user(org, user_id)
    with transaction.atomic():
        changed = TaskMember.objects.for_org(org).filter(task=task, user=user).exclude(
            status=TaskMember.Status.REMOVED).update(status=TaskMember.Status.REMOVED)
        if not changed:
            raise ValidationError({"user_id": "This person is not a member of the task."})
        released = release_member_work(task=task, user=user, actor=actor)
        audit_record(org=org, actor=actor, action="task.member_removed", target=task,
                     metadata={"user_id": user.pk, "units_released": released})
        _push_rebalance(org=org, actor=actor, task=task, why="member removed", user_id=user.pk)
        events_.task_changed(task, event="task.members_changed")
    return released


def task_items_add(*, org, actor, task: Task, filter: dict) -> int:
    """Adds the dataset's items matching `filter` to the task (those already in it are left as they are)."""
    require_scope(org=org, actor=actor, scope="task.manage")
    condition = compile_filter(filter)
    items = item_list(dataset=task.dataset).filter(condition)
    with transaction.atomic():
        added = _create_units(task=task, items=items)
        added += WorkItem.objects.for_org(org).filter(  # items taken out earlier come back
            task=task, stage=WorkItem.Stage.ANNOTATE, state=WorkItem.State.CANCELLED, is_gold=False,
            item_id__in=items.values("id")).update(state=WorkItem.State.QUEUED, assignee=None)
        audit_record(org=org, actor=actor, action="task.items_added", target=task,
                     metadata={"filter": filter, "units": added})
        events_.task_changed(task)
    return added


def task_items_add_ids(*, org, actor, task: Task, item_ids: list[int],
                       uncertainty: dict[int, float] | None = None) -> int:
    """Adds these items of the task's dataset to the task (an automation pipeline's human_task node); items already in
    it are left as they are, so adding the same items again adds nothing. Ids of other datasets are ignored.
    `uncertainty` (item id -> 0..1, a model's doubt) ranks the items' queued units: the most uncertain is served
    first among units of equal priority and due date."""
    require_scope(org=org, actor=actor, scope="task.manage")
    items = item_list(dataset=task.dataset).filter(pk__in=list(item_ids))
    with transaction.atomic():
        added = _create_units(task=task, items=items)
        added += WorkItem.objects.for_org(org).filter(
            task=task, stage=WorkItem.Stage.ANNOTATE, state=WorkItem.State.CANCELLED, is_gold=False,
            item_id__in=items.values("id")).update(state=WorkItem.State.QUEUED, assignee=None)
        if uncertainty:
            _units_rank(org=org, task=task, uncertainty=uncertainty)
        audit_record(org=org, actor=actor, action="task.items_added", target=task,
                     metadata={"item_ids": sorted(item_ids)[:1000], "units": added})
        events_.task_changed(task)
    return added


def _units_rank(*, org, task: Task, uncertainty: dict[int, float]) -> None:
    """Sets the model uncertainty of the items' queued annotate units (one UPDATE; values clamped to 0..1)."""
    from django.db.models import Case, FloatField, Value, When

    ranks = {int(i): min(1.0, max(0.0, float(u))) for i, u in uncertainty.items()}
    WorkItem.objects.for_org(org).filter(
        task=task, stage=WorkItem.Stage.ANNOTATE, state=WorkItem.State.QUEUED, is_gold=False,
        item_id__in=list(ranks)).update(uncertainty=Case(
            *[When(item_id=i, then=Value(u)) for i, u in ranks.items()], output_field=FloatField()))


def task_items_remove(*, org, actor, task: Task, item_ids: list[int]) -> int:
    """Takes items out of the task: their units not yet submitted are cancelled (a held lease ends); finished work
    stays. Returns how many units were cancelled."""
    require_scope(org=org, actor=actor, scope="task.manage")
    now = timezone.now()
    with transaction.atomic():
        units = list(WorkItem.objects.for_org(org).select_for_update().filter(
            task=task, item_id__in=item_ids,
            state__in=[WorkItem.State.QUEUED, WorkItem.State.LEASED, WorkItem.State.REJECTED]))
        for unit in units:
            unit.state, unit.lease_expires_at = WorkItem.State.CANCELLED, None
            unit.version += 1
        WorkItem.objects.bulk_update(units, ["state", "lease_expires_at", "version"])
        WorkEvent.objects.bulk_create([_event(u, actor, WorkEvent.Kind.RELEASED, data={"cancelled": True}, at=now)
                                       for u in units])
        audit_record(org=org, actor=actor, action="task.items_removed", target=task,
                     metadata={"item_ids": item_ids[:1000], "units_cancelled": len(units)})
        events_.task_changed(task)
    return len(units)


def task_member_pause(*, task: Task, user, actor=None) -> bool:
    """Pauses an annotator on the task (the quality thresholds' action; the caller audits it): they get no new work
    and their queued and leased units go back to the queue. False when they were not an active annotator."""
    from .distribution import release_member_work

    with transaction.atomic():
        changed = TaskMember.objects.for_org(task.organization_id).filter(
            task=task, user=user, role=TaskMember.Role.ANNOTATOR, status=TaskMember.Status.ACTIVE,
        ).update(status=TaskMember.Status.PAUSED)
        if not changed:
            return False
        release_member_work(task=task, user=user, actor=actor)
        events_.task_changed(task, event="task.members_changed")
    return True
