"""Handing out units of work: pull (the next unit, SKIP LOCKED) and lease expiry.

Nobody gets a unit someone else holds: the pull locks the candidate row with FOR UPDATE SKIP LOCKED, so
concurrent pulls each take a different row without waiting on each other, and the database's constraints
(models.py) refuse what a race could still produce: a second lease for the same person, or two consensus
slots of one item for the same person. Such a refusal is retried, never served.

Serving order (the workitem_queue_uncertainty index): priority, highest first; due date, soonest first; a model's
uncertainty about the item (WorkItem.uncertainty, set by a pipeline's route node), most uncertain first; then id.
"""

from collections import Counter
from contextlib import nullcontext
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from .events import unit_changed
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
    same_item_mine = WorkItem.objects.for_org(task.organization_id).filter(
        task_id=task.pk, item_id=OuterRef("item_id"), stage=stage, assignee=user).exclude(
        Q(is_gold=True) & Q(is_gold=OuterRef("is_gold")))  # see _STAGE_RULES: gold after gold is a retake
    return (units.filter(Q(state=WorkItem.State.QUEUED, assignee__isnull=True)
                         | Q(state=WorkItem.State.QUEUED, assignee=user))
            .exclude(Exists(same_item_mine.exclude(pk=OuterRef("pk")))))


def pull_next(*, task: Task, user, stage: str, member: TaskMember | None = None) -> tuple[WorkItem | None, bool]:
    """(unit, resumed): the caller's current lease, their rejected work to fix, or the next queued unit."""
    now = timezone.now()
    for _attempt in range(PULL_RETRIES):
        try:
            if connection.vendor == "postgresql":
                busy, unit = _lease_in_one_statement(task, user, stage, now)
                if not busy:
                    return unit, False
            return _pull_step(task, user, stage, now)
        except IntegrityError:
            continue  # a concurrent pull of the same person won; look again
    return None, False


# The common case in one round trip: the caller holds no lease and has no rejected work to fix (`busy`), so the
# next queued unit is locked (SKIP LOCKED), leased and logged by one statement, atomic on its own. When the caller
# is busy the statement changes nothing and _pull_step resumes, releases or hands back their work. The candidate
# rule is _candidates' in SQL; the constraints of models.py still refuse what a race could produce.
_LEASE_SQL = """
WITH busy AS MATERIALIZED (
    SELECT EXISTS (
        SELECT 1 FROM workforce_workitem m
        WHERE m.organization_id = %(org)s AND m.task_id = %(task)s AND m.assignee_id = %(user)s
          AND (m.state = 'leased' OR (m.state = 'rejected' AND m.stage = 'annotate' AND %(stage)s = 'annotate'))
    ) AS busy
),
candidate AS (
    SELECT w.id FROM workforce_workitem w
    WHERE w.organization_id = %(org)s AND w.task_id = %(task)s AND w.stage = %(stage)s AND w.state = 'queued'
      AND (w.assignee_id IS NULL OR w.assignee_id = %(user)s)
      AND NOT (SELECT busy FROM busy)
      AND {stage_rule}
    ORDER BY w.priority DESC, w.due_at ASC, w.uncertainty DESC, w.id ASC
    LIMIT 1
    FOR UPDATE OF w SKIP LOCKED
),
leased AS (
    UPDATE workforce_workitem u
    SET state = 'leased', assignee_id = %(user)s, leased_at = %(now)s, lease_expires_at = %(expires)s,
        attempts = u.attempts + 1, version = u.version + 1
    FROM candidate WHERE u.id = candidate.id
    RETURNING {returning}
),
logged AS (
    INSERT INTO workforce_workevent (organization_id, task_id, work_item_id, actor_id, kind, at, active_seconds,
                                     wall_seconds, data)
    SELECT organization_id, task_id, id, %(user)s, 'leased', %(now)s, 0, 0, '{{}}'::jsonb FROM leased
)
SELECT busy.busy, i.name, leased.* FROM busy LEFT JOIN leased ON true LEFT JOIN datasets_item i ON i.id = leased.item_id
"""
_STAGE_RULES = {
    # Consensus: never a second slot of an item this person already has (a gold unit served again for a retaken
    # training, routing.serve_gold, is not held back by their earlier gold unit of the item).
    WorkItem.Stage.ANNOTATE: """NOT EXISTS (
        SELECT 1 FROM workforce_workitem o
        WHERE o.organization_id = w.organization_id AND o.task_id = w.task_id AND o.item_id = w.item_id
          AND o.stage = w.stage AND o.assignee_id = %(user)s AND o.id <> w.id AND NOT (o.is_gold AND w.is_gold))""",
    # A reviewer never reviews their own work (also a CHECK constraint).
    WorkItem.Stage.REVIEW: "(w.annotator_id IS NULL OR w.annotator_id <> %(user)s)",
}
_lease_sql_cache: dict[str, str] = {}


def _lease_sql(stage: str) -> str:
    if stage not in _lease_sql_cache:
        returning = ", ".join(f"u.{f.column}" for f in WorkItem._meta.concrete_fields)
        _lease_sql_cache[stage] = _LEASE_SQL.format(stage_rule=_STAGE_RULES[stage], returning=returning)
    return _lease_sql_cache[stage]


def _unit_from_row(row) -> WorkItem:
    """A WorkItem from its columns in concrete-field order, with the conversions the ORM would apply (JSON etc.)."""
    fields = WorkItem._meta.concrete_fields
    values = list(row)
    for i, field in enumerate(fields):
        col = field.cached_col
        for convert in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            values[i] = convert(values[i], col, connection)
    return WorkItem.from_db(connection.alias, [f.attname for f in fields], values)


def _lease_in_one_statement(task: Task, user, stage: str, now) -> tuple[bool, WorkItem | None]:
    """(busy, unit): leases the next queued unit unless the caller is busy; unit is None when nothing is left."""
    from apps.datasets.models import Item

    params = {"org": task.organization_id, "task": task.pk, "user": user.pk, "stage": stage, "now": now,
              "expires": now + timedelta(seconds=task.lease_seconds)}
    # Inside a transaction a failed statement must not poison it: give the retry a savepoint to roll back to.
    # Outside one (a request), the statement is its own transaction.
    with transaction.atomic() if connection.in_atomic_block else nullcontext(), connection.cursor() as cursor:
        cursor.execute(_lease_sql(stage), params)
        busy, item_name, *row = cursor.fetchone()
    if busy or row[0] is None:
        return busy, None
    unit = _unit_from_row(row)
    item = Item.from_db(connection.alias, ["id", "name"], [unit.item_id, item_name])  # what the answer shows
    WorkItem.item.field.set_cached_value(unit, item)
    WorkItem.task.field.set_cached_value(unit, task)
    return False, unit


def _pull_step(task: Task, user, stage: str, now) -> tuple[WorkItem | None, bool]:
    """The general case, statement by statement: resume a live lease, release an expired one, rework, next."""
    with transaction.atomic():
        current = _current_lease(task, user)
        if current is not None:
            WorkItem.task.field.set_cached_value(current, task)
        if current is not None and current.lease_expires_at > now:
            current.lease_expires_at = now + timedelta(seconds=task.lease_seconds)
            current.save(update_fields=["lease_expires_at"])
            WorkEvent.objects.bulk_create([_event(current, user, WorkEvent.Kind.RESUMED)])
            return current, True
        if current is not None:  # expired but not yet swept: give it back first
            _release(current, user, WorkEvent.Kind.EXPIRED, now)
        unit = _rework(task, user, stage) or (
            _candidates(task, user, stage).select_for_update(skip_locked=True, of=("self",))
            .order_by("-priority", "due_at", "-uncertainty", "id").first()
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
        leased = WorkItem.objects.for_org(task.organization_id).select_related("item").get(pk=unit.pk)
        WorkItem.task.field.set_cached_value(leased, task)
        return leased, False


def _rework(task: Task, user, stage: str) -> WorkItem | None:
    """Rejected work goes back to the person who did it, before anything new."""
    if stage != WorkItem.Stage.ANNOTATE:
        return None
    return (WorkItem.objects.for_org(task.organization_id).select_for_update(skip_locked=True)
            .filter(task=task, stage=stage, state=WorkItem.State.REJECTED, assignee=user)
            .order_by("-priority", "due_at", "-uncertainty", "id").first())


def _release(unit: WorkItem, actor, kind: str, now) -> None:
    from .selectors import unit_was_rejected

    unit.state = WorkItem.State.REJECTED if unit_was_rejected(unit=unit) else WorkItem.State.QUEUED
    if unit.state == WorkItem.State.QUEUED and unit.task.distribution == Task.Distribution.PULL:
        unit.assignee = None
    unit.lease_expires_at = None
    unit.version += 1
    unit.save(update_fields=["state", "assignee", "lease_expires_at", "version"])
    WorkEvent.objects.bulk_create([_event(unit, actor, kind, wall_seconds=(now - unit.leased_at).total_seconds()
                                          if unit.leased_at else 0)])
    if unit.assignee_id is None and unit.stage == WorkItem.Stage.ANNOTATE:
        from .routing import discard_draft

        discard_draft(unit, actor, reason="lease expired")  # whoever takes it next starts clean
    unit_changed(unit)


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
                             assignee__isnull=True).order_by("-priority", "due_at", "-uncertainty", "id")[:batch])
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


def push_rebalance(*, task: Task, actor, batch: int = 50_000) -> dict[str, int]:
    """Push mode: spreads the task's queued annotate units that nobody has started over its active annotators in
    proportion to their weights, moving pre-assigned units from those above their share to those below it and
    handing out unassigned ones. A unit that is leased, was ever leased (a skipped one keeps its holder's draft),
    is rework or a gold check never moves; nobody gets two slots of the same item. Each moved or handed-out unit
    gets a work event; returns {"moved": n, "assigned": m}."""
    members = list(TaskMember.objects.for_org(task.organization_id).filter(
        task=task, role=TaskMember.Role.ANNOTATOR, status=TaskMember.Status.ACTIVE).order_by("id"))
    if task.distribution != Task.Distribution.PUSH or not members:
        return {"moved": 0, "assigned": 0}
    weights = {m.user_id: m.weight for m in members}
    with transaction.atomic():
        # Locked, and skipped when a pull holds them: a unit being leased right now is not moved under its holder.
        units = list(WorkItem.objects.for_org(task.organization_id).select_for_update(skip_locked=True)
                     .filter(task=task, stage=WorkItem.Stage.ANNOTATE, state=WorkItem.State.QUEUED, is_gold=False)
                     .filter(Q(assignee__isnull=True) | Q(assignee_id__in=list(weights), leased_at__isnull=True))
                     .order_by("-priority", "due_at", "-uncertainty", "id")
                     .only("id", "item_id", "assignee_id")[:batch])
        if not units:
            return {"moved": 0, "assigned": 0}
        # Work that stays with its holder (leased, started, rework) counts towards their share.
        fixed = Counter(dict(
            WorkItem.objects.for_org(task.organization_id)
            .filter(task=task, stage=WorkItem.Stage.ANNOTATE, is_gold=False, assignee_id__in=list(weights))
            .filter(Q(state__in=[WorkItem.State.LEASED, WorkItem.State.REJECTED])
                    | Q(state=WorkItem.State.QUEUED, leased_at__isnull=False))
            .values_list("assignee_id").annotate(n=Count("id")).order_by()))
        quota = {user_id: max(share - fixed[user_id], 0)
                 for user_id, share in _shares(len(units) + sum(fixed.values()), weights).items()}
        load = {user_id: 0 for user_id in weights}  # movable units each person keeps or receives
        mine: dict[int, list[WorkItem]] = {user_id: [] for user_id in weights}
        for unit in units:
            if unit.assignee_id:
                mine[unit.assignee_id].append(unit)
                load[unit.assignee_id] += 1
        taken = set(WorkItem.objects.for_org(task.organization_id).filter(
            task=task, stage=WorkItem.Stage.ANNOTATE, item_id__in={u.item_id for u in units},
            assignee__isnull=False).values_list("item_id", "assignee_id"))
        moves: dict[int, list[WorkItem]] = {}

        def place(unit) -> bool:
            wanting = [u for u in weights if load[u] < quota[u] and (unit.item_id, u) not in taken]
            if not wanting:
                return False
            to_user = min(wanting, key=lambda u: ((load[u] - quota[u]) / weights[u], u))
            moves.setdefault(to_user, []).append(unit)
            load[to_user] += 1
            taken.add((unit.item_id, to_user))
            if unit.assignee_id:
                load[unit.assignee_id] -= 1
            return True

        # Those above their share give away the units they would reach last (skipping an item the others
        # already have a slot of); then the unassigned ones go to whoever is furthest below their share.
        for user_id, units_of_user in mine.items():
            for unit in reversed(units_of_user):
                if load[user_id] <= quota[user_id]:
                    break
                place(unit)
        for unit in units:
            if unit.assignee_id is None:
                place(unit)
        counts = {"moved": 0, "assigned": 0}
        events = []
        for to_user, moved in moves.items():
            WorkItem.objects.for_org(task.organization_id).filter(pk__in=[u.pk for u in moved]).update(
                assignee_id=to_user, version=F("version") + 1)
            for unit in moved:
                counts["moved" if unit.assignee_id else "assigned"] += 1
                events.append(WorkEvent(
                    organization_id=task.organization_id, task_id=task.pk, work_item_id=unit.pk,
                    actor=actor if getattr(actor, "pk", None) else None, kind=WorkEvent.Kind.REASSIGNED,
                    data={"from_user_id": unit.assignee_id, "to_user_id": to_user, "reason": "rebalance"}))
        WorkEvent.objects.bulk_create(events, batch_size=5_000)
    return counts


def _shares(total: int, weights: dict[int, float]) -> dict[int, int]:
    """`total` units split in proportion to the weights, in whole units (largest remainders get the rest)."""
    weight_sum = sum(weights.values())
    exact = {user_id: total * weight / weight_sum for user_id, weight in weights.items()}
    shares = {user_id: int(value) for user_id, value in exact.items()}
    rest = total - sum(shares.values())
    for user_id in sorted(exact, key=lambda u: (shares[u] - exact[u], u))[:rest]:
        shares[user_id] += 1
    return shares


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
