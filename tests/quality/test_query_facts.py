"""work.* and quality.* facts in the item query language, and a task started from such a query."""

import pytest

from apps.datasets.query import compile_filter
from apps.workforce.models import Task, WorkItem

from .samples import Samples

pytestmark = pytest.mark.django_db


def _items(task, query):
    from apps.datasets.models import Item

    return set(Item.objects.filter(dataset=task.dataset).filter(compile_filter(query)).values_list("pk", flat=True))


@pytest.fixture
def worked(make_task, team):
    """Four items: 0 approved (by a), 1 rejected (by b), 2 in a consensus scoring 0.4 (a and c), 3 untouched."""
    task = make_task(n_items=5)
    a, b, c = (m.user for m in team["annotators"])
    s = Samples(task)
    approved = s.review(a, True)
    rejected = s.review(b, False, hours_ago=24 * 3)
    result = s.consensus([a, c], {(0, 1): 0.4})
    untouched = WorkItem.objects.filter(task=task).exclude(
        item_id__in=[approved.item_id, rejected.item_id, result.item_id]).order_by("id").first()
    return {"task": task, "a": a, "b": b, "approved": approved.item_id, "rejected": rejected.item_id,
            "agreement": result.item_id, "untouched": untouched.item_id}


def test_annotated_by_takes_an_email_or_an_id(worked):
    task, a = worked["task"], worked["a"]

    assert _items(task, {"work.annotated_by": a.email.upper()}) == {worked["approved"], worked["agreement"]}
    assert _items(task, {"work.annotated_by": worked["b"].pk}) == {worked["rejected"]}
    assert worked["approved"] not in _items(task, {"work.annotated_by": {"$ne": a.email}})


def test_review_status(worked):
    task = worked["task"]

    assert _items(task, {"work.review_status": "approved"}) == {worked["approved"]}
    assert _items(task, {"work.review_status": {"$in": ["rejected", "approved"]}}) == {worked["approved"],
                                                                                      worked["rejected"]}
    none = _items(task, {"work.review_status": "none"})
    assert worked["untouched"] in none and worked["approved"] not in none


def test_rejected_within_days(worked):
    task = worked["task"]

    assert _items(task, {"work.rejected_within_days": 7}) == {worked["rejected"]}
    assert _items(task, {"work.rejected_within_days": 1}) == set()


def test_agreement_compares_numbers(worked):
    task = worked["task"]

    assert _items(task, {"quality.agreement": {"$lt": 0.5}}) == {worked["agreement"]}
    assert _items(task, {"quality.agreement": {"$gte": 0.5}}) == set()
    assert worked["agreement"] not in _items(task, {"quality.agreement": {"$exists": False}})


@pytest.mark.parametrize("query,path", [
    ({"work.review_status": "maybe"}, "filter.work.review_status"),
    ({"work.rejected_within_days": -1}, "filter.work.rejected_within_days"),
    ({"work.rejected_within_days": {"$gt": 3}}, "filter.work.rejected_within_days.$gt"),
    ({"quality.agreement": {"$lt": "high"}}, "filter.quality.agreement.$lt"),
    ({"work.annotated_by": True}, "filter.work.annotated_by"),
    ({"work.assignee__email": "x"}, "filter.work.assignee__email"),
    ({"quality.pairs": 1}, "filter.quality.pairs"),
])
def test_bad_values_answer_400_naming_the_path(query, path, worked, owner_a, api_for):
    task = worked["task"]

    response = api_for(owner_a).post(f"/api/v1/datasets/{task.dataset_id}/items/query/", {"filter": query},
                                     format="json")

    assert response.status_code == 400, response.content
    assert path in response.json()["errors"]


def test_a_task_can_be_started_from_such_a_query(worked, owner_a, team, api_for):
    task = worked["task"]
    body = {"name": "Fix the rejected", "dataset_id": task.dataset_id, "recipe_version_id": task.recipe_version_id,
            "query": {"work.review_status": "rejected"},
            "members": [{"user_id": team["annotators"][2].user_id, "role": "annotator"}]}

    response = api_for(owner_a).post("/api/v1/tasks/", body, format="json")

    assert response.status_code == 201, response.content
    created = Task.objects.get(pk=response.json()["id"])
    assert list(WorkItem.objects.filter(task=created).values_list("item_id", flat=True)) == [worked["rejected"]]
