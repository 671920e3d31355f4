"""Items join and leave a task at any time: by hand, and by themselves in a live task."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.datasets.models import Item
from apps.workforce.live import sync_live_task
from apps.workforce.models import WorkItem
from tests.datasets.factories import ItemFactory

pytestmark = pytest.mark.django_db


def test_a_live_task_takes_in_new_matching_items(make_task, team):
    task = make_task(n_items=2, live=True, query={"name": {"$contains": "img"}})
    assert WorkItem.objects.filter(task=task).count() == 2

    ItemFactory(dataset=task.dataset, name="img-new.jpg")
    ItemFactory(dataset=task.dataset, name="other.jpg")
    assert sync_live_task(task=task) == 1
    assert sync_live_task(task=task) == 0  # seen twice, added once
    assert WorkItem.objects.filter(task=task, item__name="img-new.jpg").exists()
    assert not WorkItem.objects.filter(task=task, item__name="other.jpg").exists()


def test_the_live_cursor_only_moves_past_settled_items(make_task):
    task = make_task(n_items=1, live=True)
    old = ItemFactory(dataset=task.dataset, name="img-old.jpg")
    Item.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))

    sync_live_task(task=task)

    task.refresh_from_db()
    assert task.live_cursor == old.pk


def test_a_frozen_task_does_not_grow(make_task):
    task = make_task(n_items=1)
    ItemFactory(dataset=task.dataset, name="img-late.jpg")

    assert sync_live_task(task=task) == 0


def test_items_are_added_and_removed_by_hand(make_task, team, owner_a, api_for):
    task = make_task(n_items=3, query={"name": "img-000.jpg"})
    client = api_for(owner_a)
    assert WorkItem.objects.filter(task=task).count() == 1

    more = {"filter": {"name": {"$in": ["img-001.jpg", "img-002.jpg"]}}}
    added = client.post(f"/api/v1/tasks/{task.pk}/items/", more, format="json")
    assert added.status_code == 200 and added.json() == {"units_added": 2}

    annotator = api_for(team["annotators"][0])
    held = annotator.post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").json()
    removed = client.post(f"/api/v1/tasks/{task.pk}/items/remove/", {"item_ids": [held["item"]]}, format="json")
    assert removed.json() == {"units_cancelled": 1}
    assert annotator.post(f"/api/v1/work-items/{held['id']}/submit/").status_code == 409

    back = client.post(f"/api/v1/tasks/{task.pk}/items/", {"filter": {}}, format="json")
    assert back.json() == {"units_added": 1}
    bad = client.post(f"/api/v1/tasks/{task.pk}/items/", {"filter": {"size__gt": 1}}, format="json")
    assert bad.status_code == 400 and "filter.size__gt" in bad.json()["errors"]
