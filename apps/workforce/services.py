"""Writes of the workforce app: tasks and members, and the unit state machine (submit, skip, review).

Every transition locks the unit, checks who may make it from which state, appends a WorkEvent and, where a
client sent an Idempotency-Key, stores the answer with the change so a replay gets the same answer.
"""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from apps.annotations.selectors import layer_changes_by
from apps.compliance.services import audit_record
from apps.core.errors import ConflictError
from apps.datasets.query import compile_filter
from apps.datasets.selectors import item_list
from apps.tenancy.permissions import require_scope

from . import events as events_
from . import quality_hooks, routing
from .distribution import _event
from .models import IdempotentReply, ReviewComment, ReviewRound, Task, TaskMember, WorkEvent, WorkItem

TASK_FIELDS = ("name", "query", "live", "distribution", "consensus", "review_ratio", "honeypot_rate", "priority",
               "due_at", "annotator_cap", "lease_seconds", "is_training", "pass_threshold")
MAX_HEARTBEAT_SECONDS = 120  # a heartbeat credits at most this much active time since the previous one


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


def _org_user(org, user_id):
    from apps.tenancy.selectors import membership_get_by_user_id

    membership = membership_get_by_user_id(org=org, user_id=user_id) if user_id is not None else None
    if membership is None:
        raise ValidationError({"user_id": "Not a member of this organisation."})
    return membership.user


def task_member_add(*, org, actor, task: Task, user_id: int, role: str, weight: float = 1.0) -> TaskMember:
    require_scope(org=org, actor=actor, scope="task.manage")
    user = _org_user(org, user_id)
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


# --- the unit state machine -----------------------------------------------------------------------------------

def _locked(unit: WorkItem) -> WorkItem:
    # Locks the unit's row only (`of`): a plain FOR UPDATE over the join would also lock the task's row and so queue
    # every submit of a task behind one another. The task, item and organisation come in the same query, for the
    # routing after the transition and for the answer.
    return (WorkItem.objects.for_org(unit.organization_id).select_for_update(of=("self",))
            .select_related("task", "item", "organization").get(pk=unit.pk))


def _check_holder(unit: WorkItem, actor, now) -> None:
    """Only the current holder of a live lease may act on a unit."""
    if unit.assignee_id != actor.pk:
        held_before = WorkEvent.objects.for_org(unit.organization_id).filter(
            work_item=unit, actor=actor, kind=WorkEvent.Kind.LEASED).exists()
        if not held_before:
            raise PermissionDenied("This unit is assigned to someone else.")
        raise ConflictError("This unit is no longer yours: it was reassigned or went back to the queue.",
                            [{"id": unit.pk, "state": unit.state}])
    if unit.state != WorkItem.State.LEASED:
        raise ConflictError(f"This unit is {unit.get_state_display().lower()}; only a leased unit can be submitted.",
                            [{"id": unit.pk, "state": unit.state}])
    if unit.lease_expires_at is None or unit.lease_expires_at <= now:
        raise ConflictError("Your lease on this unit expired; pull the next unit.", [{"id": unit.pk,
                                                                                       "state": "expired"}])


def _replay(org, actor, key: str | None, scope: str):
    if not key:
        return None
    if len(key) > 200:
        raise ValidationError({"Idempotency-Key": "At most 200 characters."})
    reply = IdempotentReply.objects.for_org(org).filter(user=actor, key=key).first()
    if reply is None:
        return None
    if reply.scope != scope:
        raise ConflictError("This Idempotency-Key was already used for another request.")
    return reply


def _remember(org, actor, key: str | None, scope: str, status: int, body: dict) -> None:
    if not key:
        return
    try:
        with transaction.atomic():
            IdempotentReply.objects.create(organization_id=org.pk, user=actor, key=key, scope=scope, status=status,
                                           body=body)
    except IntegrityError:  # the same key raced in from a second request: its answer stands
        raise ConflictError("This request is already being processed.") from None


def work_item_submit(*, org, actor, unit: WorkItem, idempotency_key: str | None = None, render) -> tuple[int, dict]:
    """Submits the caller's leased unit. `render(unit) -> dict` is the answer to store for replays.
    Returns (status, body): the first answer again for a replayed key."""
    scope = f"submit:{unit.pk}"
    reply = _replay(org, actor, idempotency_key, scope)
    if reply is not None:
        return reply.status, reply.body
    now = timezone.now()
    with transaction.atomic():
        unit = _locked(unit)
        _check_holder(unit, actor, now)
        wall = (now - unit.leased_at).total_seconds() if unit.leased_at else 0
        unit.submitted_at = now
        unit.lease_expires_at = None
        unit.version += 1
        events = [_event(unit, actor, WorkEvent.Kind.SUBMITTED, wall_seconds=wall,
                         active_seconds=unit.active_seconds, data={"stage": unit.stage})]
        if unit.stage != WorkItem.Stage.ANNOTATE:
            raise ValidationError({"decision": "A review unit is finished with approve or reject."})
        # One UPDATE: routing decides the state the unit leaves in (a consensus unit saves itself first, for the
        # closing check that counts its siblings).
        unit.state = WorkItem.State.SUBMITTED
        routing.after_submit(unit=unit, actor=actor)
        unit.save(update_fields=["state", "submitted_at", "lease_expires_at", "version"])
        WorkEvent.objects.bulk_create(events)
        events_.unit_changed(unit)
        body = render(unit)
        _remember(org, actor, idempotency_key, scope, 200, body)
    return 200, body


def review_decide(*, org, actor, unit: WorkItem, approve: bool, comments: list[dict] | None = None,
                  idempotency_key: str | None = None, render) -> tuple[int, dict]:
    """Approves or rejects the work a review unit covers; a rejection sends it back to its annotator."""
    scope = f"review:{unit.pk}"
    reply = _replay(org, actor, idempotency_key, scope)
    if reply is not None:
        return reply.status, reply.body
    comments = comments or []
    if not approve and not comments:
        raise ValidationError({"comments": "Say what to fix: a rejection needs at least one comment."})
    now = timezone.now()
    with transaction.atomic():
        unit = _locked(unit)
        if unit.stage != WorkItem.Stage.REVIEW:
            raise ValidationError({"decision": "Only review units are approved or rejected."})
        _check_holder(unit, actor, now)
        work = WorkItem.objects.for_org(org).select_for_update().get(pk=unit.reviews_id)
        unit.state, unit.submitted_at, unit.lease_expires_at = WorkItem.State.DONE, now, None
        unit.version += 1
        unit.save(update_fields=["state", "submitted_at", "lease_expires_at", "version"])
        kind = WorkEvent.Kind.APPROVED if approve else WorkEvent.Kind.REJECTED
        # The reviewer may have corrected the work in its layer before deciding: each change is a revision by the
        # reviewer, and an approval promotes the corrected layer.
        corrections = layer_changes_by(org=org, item=unit.item, layer=work.pk, actor=actor,
                                       since=unit.leased_at or now)
        routing.after_review(work=work, actor=actor, approve=approve)
        round_ = ReviewRound.objects.create(
            organization_id=org.pk, work_item=work, review_unit=unit, reviewer=actor, decided_at=now,
            corrections=corrections,
            number=ReviewRound.objects.for_org(org).filter(work_item=work).count() + 1,
            decision=ReviewRound.Decision.APPROVED if approve else ReviewRound.Decision.REJECTED)
        ReviewComment.objects.bulk_create([
            ReviewComment(organization_id=org.pk, work_item=work, round=round_, annotation_id=c.get("annotation_id"),
                          author=actor, text=c["text"]) for c in comments
        ])
        quality_hooks.evidence_recorded(task=unit.task, user_ids=[work.assignee_id])
        wall = (now - unit.leased_at).total_seconds() if unit.leased_at else 0
        WorkEvent.objects.bulk_create([
            _event(unit, actor, kind, wall_seconds=wall, active_seconds=unit.active_seconds,
                   data={"reviews": work.pk, "annotator_id": work.assignee_id, "comments": len(comments),
                         "round": round_.number, "corrections": corrections}),
            _event(work, actor, kind, data={"review_unit": unit.pk, "round": round_.number}),
        ])
        events_.unit_changed(unit)
        events_.unit_changed(work)
        body = render(unit)
        _remember(org, actor, idempotency_key, scope, 200, body)
    return 200, body


def work_item_skip(*, org, actor, unit: WorkItem, reason: str) -> WorkItem:
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise ValidationError({"reason": "Say why you skip (1 to 500 characters)."})
    now = timezone.now()
    with transaction.atomic():
        unit = _locked(unit)
        _check_holder(unit, actor, now)
        unit.state = WorkItem.State.QUEUED
        unit.assignee = None if unit.task.distribution == Task.Distribution.PULL else unit.assignee
        unit.lease_expires_at = None
        unit.priority -= 1  # served after the units nobody skipped
        if unit.assignee is None and unit.stage == WorkItem.Stage.ANNOTATE:
            routing.discard_draft(unit, actor, reason="skipped")
        unit.version += 1
        unit.save(update_fields=["state", "assignee", "lease_expires_at", "priority", "version"])
        events_.unit_changed(unit)
        WorkEvent.objects.bulk_create([_event(unit, actor, WorkEvent.Kind.SKIPPED, data={"reason": reason},
                                              wall_seconds=(now - unit.leased_at).total_seconds()
                                              if unit.leased_at else 0)])
    return unit


def work_item_heartbeat(*, org, actor, unit: WorkItem, active_seconds: float) -> WorkItem:
    """Credits active time (the studio sends it while the annotator is focused and has recent input)."""
    if not isinstance(active_seconds, (int, float)) or not 0 < active_seconds <= MAX_HEARTBEAT_SECONDS:
        raise ValidationError({"active_seconds": f"Between 0 and {MAX_HEARTBEAT_SECONDS} seconds."})
    now = timezone.now()
    with transaction.atomic():
        unit = _locked(unit)
        _check_holder(unit, actor, now)
        counted = [WorkEvent.Kind.HEARTBEAT, WorkEvent.Kind.LEASED, WorkEvent.Kind.RESUMED]
        last = (WorkEvent.objects.for_org(unit.organization_id).filter(work_item=unit, kind__in=counted)
                .order_by("-at").values_list("at", flat=True).first())
        elapsed = (now - last).total_seconds() if last else active_seconds
        credited = min(float(active_seconds), max(elapsed, 0.0))  # never more than the time that really passed
        unit.active_seconds += credited
        unit.lease_expires_at = now + timedelta(seconds=unit.task.lease_seconds)  # activity keeps the lease
        unit.save(update_fields=["active_seconds", "lease_expires_at"])
        WorkEvent.objects.bulk_create([_event(unit, actor, WorkEvent.Kind.HEARTBEAT, active_seconds=credited)])
    return unit


def task_next(*, org, actor, task: Task, stage: str = WorkItem.Stage.ANNOTATE) -> tuple[WorkItem | None, bool]:
    """Leases the caller's next unit of the task: (unit or None, resumed)."""
    from .distribution import pull_next
    from .selectors import task_member_has_role

    if stage not in WorkItem.Stage.values:
        raise ValidationError({"stage": f"One of {', '.join(WorkItem.Stage.values)}."})
    role = TaskMember.Role.ANNOTATOR if stage == WorkItem.Stage.ANNOTATE else TaskMember.Role.REVIEWER
    if not task_member_has_role(task=task, user=actor, role=role):
        raise PermissionDenied(f"You are not an active {role} of this task.")
    if task.status != Task.Status.ACTIVE:
        raise ConflictError(f"This task is {task.get_status_display().lower()}: no new work is handed out.")
    if task.annotator_cap and stage == WorkItem.Stage.ANNOTATE:
        done = WorkItem.objects.for_org(org).filter(task=task, assignee=actor, stage=stage).exclude(
            state__in=[WorkItem.State.QUEUED, WorkItem.State.LEASED]).count()
        if done >= task.annotator_cap:
            raise ConflictError(f"You reached this task's limit of {task.annotator_cap} units.")
    if stage == WorkItem.Stage.ANNOTATE:
        if not routing.qualified(task=task, user=actor):
            raise PermissionDenied("This task requires a qualification: pass its training task first.")
        routing.serve_gold(task=task, user=actor)
    unit, resumed = pull_next(task=task, user=actor, stage=stage)
    if unit is not None and not resumed:
        events_.unit_changed(unit)
    return unit, resumed


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
    user = _org_user(org, user_id)
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


def work_item_reassign(*, org, actor, unit: WorkItem, user_id: int | None) -> WorkItem:
    """A manager hands a unit that is not finished to another annotator of the task (or back to the queue)."""
    from .selectors import task_member

    require_scope(org=org, actor=actor, scope="task.manage")
    user = _org_user(org, user_id) if user_id is not None else None
    with transaction.atomic():
        unit = _locked(unit)
        if unit.state not in (WorkItem.State.QUEUED, WorkItem.State.LEASED, WorkItem.State.REJECTED):
            raise ConflictError(f"A {unit.get_state_display().lower()} unit cannot be reassigned.")
        role = TaskMember.Role.ANNOTATOR if unit.stage == WorkItem.Stage.ANNOTATE else TaskMember.Role.REVIEWER
        if user is not None and task_member(task=unit.task, user=user, role=role) is None:
            raise ValidationError({"user_id": f"Not an active {role} of this task."})
        if user is not None and unit.stage == WorkItem.Stage.REVIEW and user.pk == unit.annotator_id:
            raise ValidationError({"user_id": "Nobody reviews their own work."})
        previous, to_user_id = unit.assignee_id, getattr(user, "pk", None)
        if previous != to_user_id and unit.stage == WorkItem.Stage.ANNOTATE:
            routing.discard_draft(unit, actor, reason="reassigned")
        unit.state = WorkItem.State.QUEUED
        unit.assignee = user
        unit.lease_expires_at = None
        unit.version += 1
        try:
            with transaction.atomic():
                unit.save(update_fields=["state", "assignee", "lease_expires_at", "version"])
        except IntegrityError:
            raise ValidationError({"user_id": "This person already has a unit of the same item."}) from None
        moved = {"from_user_id": previous, "to_user_id": to_user_id}
        WorkEvent.objects.bulk_create([_event(unit, actor, WorkEvent.Kind.REASSIGNED, data=moved)])
        audit_record(org=org, actor=actor, action="work_item.reassigned", target=unit, metadata=moved)
        events_.unit_changed(unit)
    return unit


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
