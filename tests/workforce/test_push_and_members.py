"""Push distribution by workload weight, manual reassignment, and redistribution when a member leaves."""

from collections import Counter

import pytest

from apps.compliance.models import AuditEvent
from apps.workforce.models import WorkEvent, WorkItem

pytestmark = pytest.mark.django_db


def test_push_assigns_in_proportion_to_weights(org_a, owner_a, make_member):
    from apps.tenancy.roles import Role
    from apps.workforce.services import task_create
    from tests.datasets.factories import DatasetFactory, ItemFactory
    from tests.recipes.factories import published_recipe

    dataset = DatasetFactory(organization=org_a)
    _recipe, version = published_recipe(org_a, owner_a.user, dataset=dataset)
    for i in range(40):
        ItemFactory(dataset=dataset, name=f"{i}.jpg")
    heavy, light = make_member(org_a, Role.ANNOTATOR), make_member(org_a, Role.ANNOTATOR)
    task = task_create(org=org_a, actor=owner_a.user, dataset=dataset, recipe_version=version, name="Push",
                       distribution="push", members=[{"user_id": heavy.user_id, "role": "annotator", "weight": 3},
                                                     {"user_id": light.user_id, "role": "annotator", "weight": 1}])

    counts = Counter(WorkItem.objects.filter(task=task).values_list("assignee_id", flat=True))

    assert counts == {heavy.user_id: 30, light.user_id: 10}


def test_in_push_mode_people_only_get_their_own_units(make_task, team, api_for):
    task = make_task(n_items=6, distribution="push")
    a = team["annotators"][0]

    unit = api_for(a).post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").json()

    assert WorkItem.objects.get(pk=unit["id"]).assignee_id == a.user_id
    assert WorkItem.objects.filter(task=task, assignee=a.user).count() == 2


def test_removing_a_member_redistributes_their_queued_and_leased_work(make_task, team, owner_a, api_for):
    task = make_task(n_items=6, distribution="push")
    leaver = team["annotators"][0]
    leased = api_for(leaver).post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").json()

    response = api_for(owner_a).post(f"/api/v1/tasks/{task.pk}/members/remove/", {"user_id": leaver.user_id},
                                     format="json")

    assert response.status_code == 200 and response.json() == {"units_released": 2}
    assert not WorkItem.objects.filter(task=task, assignee=leaver.user).exists()
    assert WorkItem.objects.get(pk=leased["id"]).assignee_id in {m.user_id for m in team["annotators"][1:]}
    assert api_for(leaver).post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").status_code == 404
    assert AuditEvent.objects.filter(action="task.member_removed").exists()


def test_a_manager_reassigns_a_unit_by_hand(make_task, team, owner_a, api_for):
    task = make_task(n_items=2)
    a, b = team["annotators"][:2]
    unit = api_for(a).post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").json()

    moved = api_for(owner_a).post(f"/api/v1/work-items/{unit['id']}/reassign/", {"user_id": b.user_id}, format="json")

    assert moved.status_code == 200 and moved.json()["assignee"] == b.user_id
    assert api_for(a).post(f"/api/v1/work-items/{unit['id']}/submit/").status_code == 409
    assert api_for(b).post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").json()["id"] == unit["id"]
    assert WorkEvent.objects.filter(work_item_id=unit["id"], kind="reassigned").exists()
    outsider = api_for(owner_a).post(f"/api/v1/work-items/{unit['id']}/reassign/",
                                     {"user_id": team["reviewer"].user_id}, format="json")
    assert outsider.status_code == 400  # not an annotator of this task
    assert api_for(a).post(f"/api/v1/work-items/{unit['id']}/reassign/", {"user_id": a.user_id},
                           format="json").status_code in (403, 404)
