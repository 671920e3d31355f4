"""A small work log whose figures were computed by hand (see test_reports.py for the numbers).

Task with five items; annotators A, B (no rate) and C (no work); reviewer R. Two UTC days, D1 = 2026-03-02 and
D2 = 2026-03-03:
  u1 (A): heartbeats 60 + 40 on D1, submitted (wall 180), rejected by R on D1; rework heartbeat 20 on D2,
          submitted again (wall 60), approved on D2. Annotations: 2 created in its layer on D1.
  u2 (A): heartbeat 30, submitted (wall 90), approved, all on D1.
  u3 (A): heartbeat 300, submitted (wall 400) on D2; a gold unit scored 0.8. Annotations: 1 on D2.
  u4 (B): heartbeats 50 + 50, submitted (wall 150), rejected on D1; never reworked.
  u5 (B): heartbeat 80, skipped (wall 100) on D2: not done.
  Review units of R: r1 (u1): heartbeat 20, rejected (wall 30); r2 (u2): heartbeat 10, approved (wall 15);
                     r4 (u4): heartbeat 30, rejected (wall 40); all on D1.
Rates: A 30.00 EUR/h, C 20.00 EUR/h, B none.
"""

from datetime import UTC, datetime
from decimal import Decimal

from apps.annotations.models import AnnotationRevision
from apps.workforce.models import GoldScore, TaskMember, WorkEvent, WorkItem
from apps.workforce.services import task_create
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe

D1, D2 = "2026-03-02", "2026-03-03"


def at(day: str, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=UTC)


def make_task(org, owner, people, name="Street scenes", n_items=5, spec=None):
    dataset = DatasetFactory(organization=org)
    _recipe, version = published_recipe(org, owner.user, dataset=dataset, name=f"Recipe for {name}", spec=spec)
    for i in range(n_items):
        ItemFactory(dataset=dataset, name=f"img-{i:03d}.jpg")
    members = [{"user_id": people[k].user_id, "role": "annotator"} for k in ("A", "B", "C")]
    members.append({"user_id": people["R"].user_id, "role": "reviewer"})
    return task_create(org=org, actor=owner.user, dataset=dataset, recipe_version=version, name=name,
                       members=members)


def build_worked_task(org_a, owner_a, people):
    task = make_task(org_a, owner_a, people)
    TaskMember.objects.filter(task=task, user=people["A"].user).update(hourly_rate=Decimal("30.00"), currency="EUR")
    TaskMember.objects.filter(task=task, user=people["C"].user).update(hourly_rate=Decimal("20.00"), currency="EUR")
    a, b, r = people["A"].user, people["B"].user, people["R"].user
    u1, u2, u3, u4, u5 = WorkItem.objects.filter(task=task).order_by("id")
    for unit, who in ((u1, a), (u2, a), (u3, a), (u4, b), (u5, b)):
        WorkItem.objects.filter(pk=unit.pk).update(assignee=who, state=WorkItem.State.SUBMITTED)

    def review_unit(unit):
        return WorkItem.objects.create(organization=org_a, task=task, item=unit.item, stage=WorkItem.Stage.REVIEW,
                                       slot=0, state=WorkItem.State.DONE, assignee=r, annotator=unit.assignee,
                                       reviews=unit)

    r1, r2, r4 = review_unit(u1), review_unit(u2), review_unit(u4)

    def ev(unit, actor, kind, when, active=0.0, wall=0.0):
        return WorkEvent(organization=org_a, task=task, work_item=unit, actor=actor, kind=kind, at=when,
                         active_seconds=active, wall_seconds=wall)

    K = WorkEvent.Kind
    WorkEvent.objects.bulk_create([
        ev(u1, a, K.LEASED, at(D1, "10:00")), ev(u1, a, K.HEARTBEAT, at(D1, "10:01"), 60),
        ev(u1, a, K.HEARTBEAT, at(D1, "10:02"), 40), ev(u1, a, K.SUBMITTED, at(D1, "10:03"), 100, 180),
        ev(r1, r, K.LEASED, at(D1, "10:58")), ev(r1, r, K.HEARTBEAT, at(D1, "10:59"), 20),
        ev(r1, r, K.REJECTED, at(D1, "11:00"), 20, 30), ev(u1, r, K.REJECTED, at(D1, "11:00")),
        ev(u1, a, K.LEASED, at(D2, "08:59")), ev(u1, a, K.HEARTBEAT, at(D2, "09:00"), 20),
        ev(u1, a, K.SUBMITTED, at(D2, "09:01"), 120, 60), ev(u1, r, K.APPROVED, at(D2, "10:00")),
        ev(u2, a, K.LEASED, at(D1, "11:59")), ev(u2, a, K.HEARTBEAT, at(D1, "12:00"), 30),
        ev(u2, a, K.SUBMITTED, at(D1, "12:01"), 30, 90),
        ev(r2, r, K.HEARTBEAT, at(D1, "12:59"), 10), ev(r2, r, K.APPROVED, at(D1, "13:00"), 10, 15),
        ev(u2, r, K.APPROVED, at(D1, "13:00")),
        ev(u3, a, K.LEASED, at(D2, "13:58")), ev(u3, a, K.HEARTBEAT, at(D2, "14:00"), 300),
        ev(u3, a, K.SUBMITTED, at(D2, "14:05"), 300, 400),
        ev(u4, b, K.LEASED, at(D1, "09:00")), ev(u4, b, K.HEARTBEAT, at(D1, "09:01"), 50),
        ev(u4, b, K.HEARTBEAT, at(D1, "09:02"), 50), ev(u4, b, K.SUBMITTED, at(D1, "09:03"), 100, 150),
        ev(r4, r, K.HEARTBEAT, at(D1, "09:30"), 30), ev(r4, r, K.REJECTED, at(D1, "09:31"), 30, 40),
        ev(u4, r, K.REJECTED, at(D1, "09:31")),
        ev(u5, b, K.LEASED, at(D2, "15:00")), ev(u5, b, K.HEARTBEAT, at(D2, "15:01"), 80),
        ev(u5, b, K.SKIPPED, at(D2, "15:02"), 0, 100),
    ])
    GoldScore.objects.create(organization=org_a, task=task, work_item=u3, user=a, score=0.8, at=at(D2, "14:05"))
    revisions = [(u1, a, D1, 1001), (u1, a, D1, 1002), (u3, a, D2, 1003), (u1, r, D1, 1004)]
    AnnotationRevision.objects.bulk_create([
        AnnotationRevision(organization=org_a, item=unit.item, annotation_id=ann, version=1,
                           action=AnnotationRevision.Action.CREATED, data={"layer": unit.pk, "label": "car"},
                           actor=who, at=at(day, "10:02")) for unit, who, day, ann in revisions])
    return task
