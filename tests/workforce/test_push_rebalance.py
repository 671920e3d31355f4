"""Push mode: a member who joins (or whose weight changes) gets a share of the queued work nobody has started, by
weight, at once; leased work never moves."""

from collections import Counter

import pytest

from apps.compliance.models import AuditEvent
from apps.tenancy.roles import Role
from apps.workforce.models import WorkEvent, WorkItem
from apps.workforce.services import task_create
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe

pytestmark = pytest.mark.django_db


@pytest.fixture
def push_task(org_a, owner_a, make_member):
    def make(n_items=12, weights=(1, 1), **settings):
        dataset = DatasetFactory(organization=org_a)
        _recipe, version = published_recipe(org_a, owner_a.user, dataset=dataset)
        for i in range(n_items):
            ItemFactory(dataset=dataset, name=f"{i}.jpg")
        people = [make_member(org_a, Role.ANNOTATOR) for _ in weights]
        task = task_create(org=org_a, actor=owner_a.user, dataset=dataset, recipe_version=version, name="Push",
                           distribution="push", members=[{"user_id": p.user_id, "role": "annotator", "weight": w}
                                                         for p, w in zip(people, weights, strict=True)], **settings)
        return task, people

    return make


def queued_counts(task):
    return Counter(WorkItem.objects.filter(task=task, state="queued").values_list("assignee_id", flat=True))


def test_a_member_who_joins_gets_a_share_of_the_queued_work_at_once(push_task, org_a, make_member, api_for,
                                                                    owner_a):
    task, (a, b) = push_task(n_items=12)
    newcomer = make_member(org_a, Role.ANNOTATOR)

    response = api_for(owner_a).post(f"/api/v1/tasks/{task.pk}/members/",
                                     {"user_id": newcomer.user_id, "role": "annotator"}, format="json")

    assert response.status_code == 201
    assert queued_counts(task) == {a.user_id: 4, b.user_id: 4, newcomer.user_id: 4}
    unit = api_for(newcomer).post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json")
    assert unit.status_code == 200 and WorkItem.objects.get(pk=unit.json()["id"]).assignee_id == newcomer.user_id
    moved = WorkEvent.objects.filter(task=task, kind="reassigned", data__reason="rebalance")
    assert moved.count() == 4 and {e.data["to_user_id"] for e in moved} == {newcomer.user_id}
    audit = AuditEvent.objects.get(action="task.work_rebalanced")
    assert audit.metadata["moved"] == 4 and audit.metadata["reason"] == "member joined"


def test_leased_units_never_move(push_task, org_a, make_member, api_for, owner_a):
    task, (a, _b) = push_task(n_items=6)
    leased = api_for(a).post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").json()
    newcomer = make_member(org_a, Role.ANNOTATOR)

    api_for(owner_a).post(f"/api/v1/tasks/{task.pk}/members/", {"user_id": newcomer.user_id, "role": "annotator"},
                          format="json")

    unit = WorkItem.objects.get(pk=leased["id"])
    assert (unit.state, unit.assignee_id) == ("leased", a.user_id)
    assert queued_counts(task)[newcomer.user_id] == 2
    assert WorkItem.objects.filter(task=task, assignee=a.user).count() == 2  # the lease and one queued unit


def test_a_weight_change_shifts_the_share(push_task, api_for, owner_a):
    task, (a, b) = push_task(n_items=12)

    api_for(owner_a).post(f"/api/v1/tasks/{task.pk}/members/", {"user_id": a.user_id, "role": "annotator",
                                                                "weight": 3}, format="json")

    assert queued_counts(task) == {a.user_id: 9, b.user_id: 3}
    assert AuditEvent.objects.get(action="task.work_rebalanced").metadata["reason"] == "weight changed"


def test_the_same_weight_again_moves_nothing(push_task, api_for, owner_a):
    task, (a, _b) = push_task(n_items=12)
    before = dict(WorkItem.objects.filter(task=task).values_list("id", "assignee_id"))

    api_for(owner_a).post(f"/api/v1/tasks/{task.pk}/members/", {"user_id": a.user_id, "role": "annotator"},
                          format="json")

    assert dict(WorkItem.objects.filter(task=task).values_list("id", "assignee_id")) == before
    assert not AuditEvent.objects.filter(action="task.work_rebalanced").exists()


def test_nobody_gets_two_consensus_slots_of_one_item(push_task, org_a, make_member, api_for, owner_a):
    task, (_a, _b) = push_task(n_items=4, consensus=2)
    newcomer = make_member(org_a, Role.ANNOTATOR)

    api_for(owner_a).post(f"/api/v1/tasks/{task.pk}/members/", {"user_id": newcomer.user_id, "role": "annotator"},
                          format="json")

    pairs = list(WorkItem.objects.filter(task=task, assignee__isnull=False).values_list("item_id", "assignee_id"))
    assert len(pairs) == len(set(pairs)) == 8
    assert 2 <= queued_counts(task)[newcomer.user_id] <= 3


def test_a_pull_task_is_not_rebalanced(make_task, org_a, make_member, api_for, owner_a):
    task = make_task(n_items=4)
    newcomer = make_member(org_a, Role.ANNOTATOR)

    api_for(owner_a).post(f"/api/v1/tasks/{task.pk}/members/", {"user_id": newcomer.user_id, "role": "annotator"},
                          format="json")

    assert not WorkItem.objects.filter(task=task, assignee__isnull=False).exists()


def test_the_board_hears_of_the_rebalance(push_task, org_a, make_member, owner_a):
    from apps.workforce.services import task_member_add

    task, _people = push_task(n_items=4)
    newcomer = make_member(org_a, Role.ANNOTATOR)
    sent = []
    import apps.workforce.events as events

    original = events.broadcast_on_commit
    events.broadcast_on_commit = lambda **kwargs: sent.append(kwargs["event"])
    try:
        task_member_add(org=org_a, actor=owner_a.user, task=task, user_id=newcomer.user_id, role="annotator")
    finally:
        events.broadcast_on_commit = original

    assert "task.rebalanced" in sent
