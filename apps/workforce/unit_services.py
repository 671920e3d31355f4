"""The unit state machine of the workforce app: lease the next unit, submit, review, skip, heartbeat, reassign.

Every transition locks the unit, checks who may make it from which state, appends a WorkEvent and, where a
client sent an Idempotency-Key, stores the answer with the change so a replay gets the same answer. The writes on
tasks themselves (create, members, items) are services.py.
"""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.annotations.selectors import layer_changes_by
from apps.compliance.services import audit_record
from apps.core.errors import ConflictError
from apps.tenancy.permissions import require_scope

from . import events as events_
from . import quality_hooks, routing
from .distribution import _event
from .models import IdempotentReply, ReviewComment, ReviewRound, Task, TaskMember, WorkEvent, WorkItem
from .services import org_user

MAX_HEARTBEAT_SECONDS = 120  # a heartbeat credits at most this much active time since the previous one


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


def work_item_reassign(*, org, actor, unit: WorkItem, user_id: int | None) -> WorkItem:
    """A manager hands a unit that is not finished to another annotator of the task (or back to the queue)."""
    from .selectors import task_member

    require_scope(org=org, actor=actor, scope="task.manage")
    user = org_user(org, user_id) if user_id is not None else None
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

