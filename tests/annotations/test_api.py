"""The annotation API as a client sees it: create, list, update with optimistic concurrency, delete, history."""

import pytest

from apps.annotations.models import Annotation, AnnotationRevision
from apps.compliance.models import AuditEvent
from apps.tenancy.roles import Role

from .conftest import car_box

pytestmark = pytest.mark.django_db


def test_create_list_update_delete_with_history(street, owner_a, api_for):
    client, item = api_for(owner_a), street["item"]

    created = client.post(f"/api/v1/items/{item.pk}/annotations/", car_box(), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["version"] == 1 and body["recipe_version"] == street["version"].pk
    assert body["attributes"] == {"colour": "red", "occluded": False}  # the recipe's default filled in

    listed = client.get(f"/api/v1/items/{item.pk}/annotations/").json()
    assert [a["id"] for a in listed] == [body["id"]]

    patched = client.patch(f"/api/v1/annotations/{body['id']}/",
                           {"version": 1, "geometry": {"x": 12, "y": 20, "w": 100, "h": 50}}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["version"] == 2 and patched["ETag"] == '"2"'

    stale = client.patch(f"/api/v1/annotations/{body['id']}/", {"version": 1, "label": "truck"}, format="json")
    assert stale.status_code == 409
    assert stale.json()["conflicts"] == [{"id": body["id"], "version": 2, "your_version": 1}]
    assert Annotation.objects.get(pk=body["id"]).label == "car"

    stale_delete = client.delete(f"/api/v1/annotations/{body['id']}/?version=1")
    assert stale_delete.status_code == 409
    deleted = client.delete(f"/api/v1/annotations/{body['id']}/", HTTP_IF_MATCH='"2"')
    assert deleted.status_code == 204
    assert not Annotation.objects.filter(pk=body["id"]).exists()

    history = client.get(f"/api/v1/items/{item.pk}/annotations/history/").json()["results"]
    assert [(r["action"], r["version"]) for r in history] == [("deleted", 3), ("updated", 2), ("created", 1)]
    assert history[1]["changed"] == ["geometry"]
    assert history[1]["actor"] == owner_a.user.email
    assert AuditEvent.objects.filter(organization=street["dataset"].organization,
                                     action="annotations.changed").count() == 3


def test_a_write_without_the_version_it_read_is_refused(street, owner_a, api_for):
    client = api_for(owner_a)
    created = client.post(f"/api/v1/items/{street['item'].pk}/annotations/", car_box(), format="json").json()

    response = client.patch(f"/api/v1/annotations/{created['id']}/", {"label": "truck"}, format="json")

    assert response.status_code == 400
    assert "version" in response.json()["errors"]


def test_change_set_is_all_or_nothing_and_errors_name_the_annotation_and_field(street, owner_a, api_for):
    client, item = api_for(owner_a), street["item"]
    first = client.post(f"/api/v1/items/{item.pk}/annotations/", car_box(), format="json").json()

    response = client.post(f"/api/v1/items/{item.pk}/annotations/changes/", {
        "create": [car_box(x=1), {"type": "bbox", "label": "car", "geometry": {"x": 600, "y": 0, "w": 100, "h": 10},
                                  "attributes": {"colour": "red"}}],
        "delete": [{"id": first["id"], "version": 1}],
    }, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["create.1.geometry"]
    assert "outside the item" in response.json()["errors"]["create.1.geometry"][0]
    assert Annotation.objects.filter(item=item).count() == 1
    assert AnnotationRevision.objects.filter(item=item).count() == 1


def test_change_set_creates_updates_and_deletes_together(street, owner_a, api_for):
    client, item = api_for(owner_a), street["item"]
    a = client.post(f"/api/v1/items/{item.pk}/annotations/", car_box(), format="json").json()
    b = client.post(f"/api/v1/items/{item.pk}/annotations/", car_box(x=200), format="json").json()

    response = client.post(f"/api/v1/items/{item.pk}/annotations/changes/", {
        "create": [{"type": "point", "label": "car", "geometry": {"x": 5, "y": 5}, "attributes": {"colour": "blue"}}],
        "update": [{"id": a["id"], "version": 1, "attributes": {"colour": "blue", "doors": 4}}],
        "delete": [{"id": b["id"], "version": 1}],
    }, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [c["type"] for c in body["created"]] == ["point"]
    assert body["updated"][0]["attributes"] == {"colour": "blue", "doors": 4, "occluded": False}
    assert body["deleted"] == [b["id"]]
    assert sorted(Annotation.objects.filter(item=item).values_list("type", flat=True)) == ["bbox", "point"]


def test_annotations_are_checked_against_the_pinned_recipe_version(street, owner_a, api_for):
    client, item = api_for(owner_a), street["item"]
    cases = [
        ({**car_box(), "label": "bicycle"}, "label"),
        ({**car_box(), "type": "keypoints"}, "type"),
        ({**car_box(), "attributes": {}}, "attributes.colour"),
        ({**car_box(), "attributes": {"colour": "green"}}, "attributes.colour"),
        ({**car_box(), "attributes": {"colour": "red", "doors": 9}}, "attributes.doors"),
        ({**car_box(), "attributes": {"colour": "red", "wheels": 4}}, "attributes.wheels"),
        ({**car_box(), "confidence": 1.5}, "confidence"),
        ({**car_box(), "recipe_version": 999999}, "recipe_version"),
        ({**car_box(), "owner": "x"}, "owner"),
    ]
    for body, field in cases:
        response = client.post(f"/api/v1/items/{item.pk}/annotations/", body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["errors"], (body, response.json())
    assert not Annotation.objects.filter(item=item).exists()


def test_a_dataset_without_a_recipe_says_so(org_a, owner_a, api_for):
    from tests.datasets.factories import ItemFactory

    item = ItemFactory(dataset__organization=org_a)

    response = api_for(owner_a).post(f"/api/v1/items/{item.pk}/annotations/", car_box(), format="json")

    assert response.status_code == 400
    assert "no published recipe" in response.json()["errors"]["recipe_version"][0]


def test_another_tenants_recipe_version_cannot_be_pinned(street, org_b, owner_b, owner_a, api_for):
    from tests.recipes.factories import published_recipe

    _recipe_b, version_b = published_recipe(org_b, owner_b.user)

    response = api_for(owner_a).post(f"/api/v1/items/{street['item'].pk}/annotations/",
                                     car_box(recipe_version=version_b.pk), format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["recipe_version"] == ["No such recipe version in this organisation."]


def test_an_annotator_needs_a_grant_on_the_dataset(street, org_a, make_member, api_for):
    from guardian.shortcuts import assign_perm

    annotator = make_member(org_a, Role.ANNOTATOR)
    client, item = api_for(annotator), street["item"]
    assert client.get(f"/api/v1/items/{item.pk}/annotations/").status_code == 404

    assign_perm("datasets.view_dataset_items", annotator.user, street["dataset"])
    assert client.get(f"/api/v1/items/{item.pk}/annotations/").status_code == 200
    assert client.post(f"/api/v1/items/{item.pk}/annotations/", car_box(), format="json").status_code == 404

    assign_perm("datasets.change_dataset_items", annotator.user, street["dataset"])
    assert client.post(f"/api/v1/items/{item.pk}/annotations/", car_box(), format="json").status_code == 201


def test_revisions_cannot_be_rewritten(street, owner_a, api_for):
    from django.db import DatabaseError, transaction

    api_for(owner_a).post(f"/api/v1/items/{street['item'].pk}/annotations/", car_box(), format="json")
    revision = AnnotationRevision.objects.get()

    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        AnnotationRevision.objects.filter(pk=revision.pk).update(data={"forged": True})
