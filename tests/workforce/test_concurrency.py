"""The invariant that matters most: under many concurrent pulls against PostgreSQL, no unit is ever held by two
people, and every unit is done exactly once. Real threads, each with its own connection and transactions."""

import threading
from collections import Counter

import pytest
from django.db import connection

from apps.tenancy.roles import Role
from apps.workforce.models import WorkEvent, WorkItem

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_pulls_never_hand_a_unit_to_two_people(org_a, owner_a, make_member, api_for):
    from apps.workforce.services import task_create
    from tests.datasets.factories import DatasetFactory, ItemFactory
    from tests.recipes.factories import published_recipe

    dataset = DatasetFactory(organization=org_a)
    _recipe, version = published_recipe(org_a, owner_a.user, dataset=dataset)
    for i in range(120):
        ItemFactory(dataset=dataset, name=f"img-{i:03d}.jpg")
    people = [make_member(org_a, Role.ANNOTATOR) for _ in range(12)]
    task = task_create(org=org_a, actor=owner_a.user, dataset=dataset, recipe_version=version, name="Race",
                       members=[{"user_id": p.user_id, "role": "annotator"} for p in people])
    clients = [api_for(p) for p in people]
    handed_out: list[tuple[int, int]] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(clients))

    def work(index: int, client) -> None:
        try:
            start.wait()
            while True:
                response = client.post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json")
                if response.status_code == 204:
                    return
                if response.status_code != 200:
                    errors.append(f"next {response.status_code} {response.content[:200]}")
                    return
                unit_id = response.json()["id"]
                with lock:
                    handed_out.append((unit_id, index))
                submitted = client.post(f"/api/v1/work-items/{unit_id}/submit/")
                if submitted.status_code != 200:
                    errors.append(f"submit {submitted.status_code} {submitted.content[:200]}")
                    return
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors[:3]
    counts = Counter(unit for unit, _person in handed_out)
    assert len(counts) == 120 and set(counts.values()) == {1}, "a unit was handed out twice"
    assert WorkItem.objects.filter(task=task, state="done").count() == 120
    assert WorkEvent.objects.filter(task=task, kind="leased").count() == 120
    assert len({person for _unit, person in handed_out}) > 1  # the work really was shared
