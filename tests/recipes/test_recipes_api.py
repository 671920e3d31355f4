"""Recipes through the API: create, validate, publish immutable versions, export/import, link to a dataset."""

import pytest
from django.db import DatabaseError, transaction

from apps.compliance.models import AuditEvent
from apps.recipes.models import RecipeVersion
from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory

from .factories import street_spec

pytestmark = pytest.mark.django_db


def test_create_edit_publish_and_pin(org_a, owner_a, api_for):
    client = api_for(owner_a)
    created = client.post("/api/v1/recipes/", {"name": "Street", "spec": street_spec()}, format="json")
    assert created.status_code == 201, created.content
    recipe = created.json()
    assert [lab["name"] for lab in recipe["draft"]["labels"]] == ["car", "truck", "person"]
    assert recipe["latest_version_number"] == 0

    published = client.post(f"/api/v1/recipes/{recipe['id']}/publish/", {"message": "v1"}, format="json")
    assert published.status_code == 201, published.content
    assert published.json()["number"] == 1

    again = client.post(f"/api/v1/recipes/{recipe['id']}/publish/", {}, format="json")
    assert again.status_code == 400
    assert again.json()["errors"]["spec"] == ["Nothing changed since version 1."]

    dataset = DatasetFactory(organization=org_a)
    linked = client.put(f"/api/v1/datasets/{dataset.pk}/recipe/", {"recipe_id": recipe["id"]}, format="json")
    assert linked.status_code == 200
    current = client.get(f"/api/v1/datasets/{dataset.pk}/recipe/").json()
    assert current["version"]["number"] == 1
    actions = set(AuditEvent.objects.filter(organization=org_a).values_list("action", flat=True))
    assert {"recipe.created", "recipe.published", "dataset.recipe_set"} <= actions


def test_published_versions_are_immutable_in_the_database(org_a, owner_a):
    from .factories import published_recipe

    _recipe, version = published_recipe(org_a, owner_a.user)

    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        RecipeVersion.objects.filter(pk=version.pk).update(spec={"labels": []})


@pytest.mark.parametrize("mutate,path", [
    (lambda s: s["labels"][0].update(name=""), "labels.0.name"),
    (lambda s: s["labels"][1].update(name="car"), "labels.1.name"),
    (lambda s: s["labels"][1].update(hotkey="1"), "labels.1.hotkey"),
    (lambda s: s["labels"][0].update(color="red"), "labels.0.color"),
    (lambda s: s["labels"][0].update(tools=["lasso"]), "labels.0.tools"),
    (lambda s: s["labels"][0].update(parent="car"), "labels.0.parent"),
    (lambda s: (s["labels"][0].update(parent="truck"), s["labels"][1].update(parent="car")), "labels.0.parent"),
    (lambda s: s["labels"][0]["attributes"][0].update(options=[]), "labels.0.attributes.0.options"),
    (lambda s: s["labels"][0]["attributes"][2].update(min=9, max=1), "labels.0.attributes.2.max"),
    (lambda s: s["labels"][0]["attributes"][1].update(default="yes"), "labels.0.attributes.1.default"),
    (lambda s: s["labels"][2]["skeleton"].update(edges=[[0, 7]]), "labels.2.skeleton.edges.0"),
    (lambda s: s["labels"][2]["skeleton"].update(points=["a", "a"]), "labels.2.skeleton.points"),
    (lambda s: s.update(review={"sample_ratio": 3}), "review.sample_ratio"),
    (lambda s: s.update(colours=[]), "colours"),
])
def test_bad_recipes_answer_400_naming_the_path(mutate, path, owner_a, api_for):
    spec = street_spec()
    mutate(spec)

    response = api_for(owner_a).post("/api/v1/recipes/", {"name": "Bad", "spec": spec}, format="json")

    assert response.status_code == 400, response.content
    assert path in response.json()["errors"], response.json()


def test_instructions_are_sanitised(owner_a, api_for):
    spec = street_spec()
    spec["instructions"] = ('<p onclick="x()">Hi</p><script>alert(1)</script><img src="javascript:alert(1)">'
                            '<img src="https://cdn.example.test/car.png" alt="a car">')

    body = api_for(owner_a).post("/api/v1/recipes/", {"name": "Docs", "spec": spec}, format="json").json()

    html = body["draft"]["instructions"]
    assert "<script" not in html and "onclick" not in html and "javascript:" not in html
    assert '<img src="https://cdn.example.test/car.png" alt="a car">' in html


def test_export_then_import_gives_the_same_recipe(owner_a, api_for):
    from .factories import published_recipe

    recipe, _version = published_recipe(owner_a.organization, owner_a.user)
    client = api_for(owner_a)

    exported = client.get(f"/api/v1/recipes/{recipe.pk}/export/?version=1")
    assert exported.status_code == 200
    assert "attachment" in exported["Content-Disposition"]
    imported = client.post("/api/v1/recipes/import/", {"document": exported.json(), "name": "Street copy"},
                           format="json")

    assert imported.status_code == 201, imported.content
    assert imported.json()["draft"] == recipe.versions.get().spec
    bad = client.post("/api/v1/recipes/import/", {"document": {"labels": []}}, format="json")
    assert bad.status_code == 400 and "format" in bad.json()["errors"]


def test_annotators_read_recipes_but_cannot_change_them(org_a, owner_a, make_member, api_for):
    from .factories import published_recipe

    recipe, _version = published_recipe(org_a, owner_a.user)
    client = api_for(make_member(org_a, Role.ANNOTATOR))

    assert client.get(f"/api/v1/recipes/{recipe.pk}/").status_code == 200
    assert client.patch(f"/api/v1/recipes/{recipe.pk}/", {"name": "Mine"}, format="json").status_code == 403
    assert client.post(f"/api/v1/recipes/{recipe.pk}/publish/", {}, format="json").status_code == 403


def test_a_recipe_in_use_cannot_be_deleted(street_item_with_box, owner_a, api_for):
    recipe = street_item_with_box

    response = api_for(owner_a).delete(f"/api/v1/recipes/{recipe.pk}/")

    assert response.status_code == 400
    assert "in use" in response.json()["errors"]["recipe"][0]


@pytest.fixture
def street_item_with_box(org_a, owner_a):
    from apps.annotations.services import annotations_change
    from tests.datasets.factories import ItemFactory

    from .factories import published_recipe

    dataset = DatasetFactory(organization=org_a)
    recipe, _version = published_recipe(org_a, owner_a.user, dataset=dataset)
    annotations_change(org=org_a, actor=owner_a.user, item=ItemFactory(dataset=dataset), create=[
        {"type": "bbox", "label": "truck", "geometry": {"x": 1, "y": 1, "w": 2, "h": 2}}])
    return recipe
