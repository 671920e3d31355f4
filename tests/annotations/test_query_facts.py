"""The item query language learns annotation facts: label, type, source, count."""

import pytest

from apps.annotations.services import annotations_change
from tests.datasets.factories import ItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotated(street, org_a, owner_a):
    dataset = street["dataset"]
    street["item"].name = "street-item"
    street["item"].save(update_fields=["name"])
    items = {name: ItemFactory(dataset=dataset, name=name) for name in ("cars", "truck", "empty", "model")}
    box = {"type": "bbox", "geometry": {"x": 1, "y": 1, "w": 5, "h": 5}}
    annotations_change(org=org_a, actor=owner_a.user, item=items["cars"], create=[
        {**box, "label": "car", "attributes": {"colour": "red"}},
        {**box, "label": "car", "attributes": {"colour": "blue"}},
        {"type": "polygon", "label": "truck", "geometry": {"exterior": [[0, 0], [9, 0], [9, 9]]}},
    ])
    annotations_change(org=org_a, actor=owner_a.user, item=items["truck"], create=[{**box, "label": "truck"}])
    annotations_change(org=org_a, actor=owner_a.user, item=items["model"], create=[
        {**box, "label": "truck", "source": "model", "confidence": 0.4}])
    return items


def _names(client, dataset, query):
    response = client.post(f"/api/v1/datasets/{dataset.pk}/items/query/", {"filter": query}, format="json")
    assert response.status_code == 200, response.content
    return sorted(item["name"] for item in response.json()["results"])


@pytest.mark.parametrize("query,expected", [
    ({"annotations.label": "car"}, ["cars"]),
    ({"annotations.label": {"$in": ["car", "truck"]}}, ["cars", "model", "truck"]),
    ({"annotations.label": {"$ne": "truck"}}, ["empty", "street-item"]),
    ({"annotations.type": "polygon"}, ["cars"]),
    ({"annotations.source": "model"}, ["model"]),
    ({"annotations.count": 0}, ["empty", "street-item"]),
    ({"annotations.count": {"$gte": 2}}, ["cars"]),
    ({"annotations.count": {"$in": [1]}}, ["model", "truck"]),
    ({"annotations.label": {"$exists": False}}, ["empty", "street-item"]),
    ({"$and": [{"annotations.label": "truck"}, {"annotations.source": {"$ne": "model"}}]}, ["cars", "truck"]),
])
def test_annotation_facts_filter_items(query, expected, annotated, street, owner_a, api_for):
    names = _names(api_for(owner_a), street["dataset"], query)
    assert names == expected


@pytest.mark.parametrize("query,path", [
    ({"annotations.colour": "red"}, "filter.annotations.colour"),
    ({"annotations.label__in": "car"}, "filter.annotations.label__in"),
    ({"annotations.type": "lasso"}, "filter.annotations.type"),
    ({"annotations.count": {"$gt": "many"}}, "filter.annotations.count.$gt"),
    ({"annotations.label": {"$gt": "a"}}, "filter.annotations.label.$gt"),
])
def test_bad_annotation_facts_answer_400_naming_the_path(query, path, street, owner_a, api_for):
    response = api_for(owner_a).post(f"/api/v1/datasets/{street['dataset'].pk}/items/query/", {"filter": query},
                                     format="json")
    assert response.status_code == 400
    assert path in response.json()["errors"], response.json()
