"""Migration maps: publishing a new recipe version moves existing annotations, previewed first, audited."""

import pytest

from apps.annotations.label_migration import label_migration_batch
from apps.annotations.models import Annotation, AnnotationRevision, LabelMigrationRun
from apps.annotations.services import annotations_change
from apps.compliance.models import AuditEvent
from apps.core.models import OutboxMessage
from apps.recipes.services import recipe_publish, recipe_update
from tests.recipes.factories import street_spec

pytestmark = pytest.mark.django_db


def _draw(org, actor, item, *labels):
    boxes = []
    for i, (label, attributes) in enumerate(labels):
        boxes.append({"type": "bbox", "label": label, "geometry": {"x": i, "y": 0, "w": 5, "h": 5},
                      "attributes": attributes})
    return annotations_change(org=org, actor=actor, item=item, create=boxes).created


def _publish(org, actor, recipe, spec, migration):
    recipe_update(org=org, actor=actor, recipe=recipe, spec=spec)
    return recipe_publish(org=org, actor=actor, recipe=recipe, migration=migration)


def _run_to_end(run_id):
    run = LabelMigrationRun.objects.get(pk=run_id)
    while label_migration_batch(run=run):
        run.refresh_from_db()
    run.refresh_from_db()
    return run


def test_rename_delete_then_merge_over_two_versions(street, org_a, owner_a, api_for):
    actor, item, recipe = owner_a.user, street["item"], street["recipe"]
    person = {"type": "keypoints", "label": "person", "geometry": {"points": [[1, 1, 2], [2, 2, 2], [0, 0, 0]]}}
    _draw(org_a, actor, item, ("car", {"colour": "red", "plate": "AB-12"}), ("truck", {}), ("truck", {}))
    annotations_change(org=org_a, actor=actor, item=item, create=[person])

    spec = street_spec()
    spec["labels"][1]["name"] = "lorry"
    spec["labels"].pop(2)
    _publish(org_a, actor, recipe, spec, [{"op": "rename", "from": "truck", "to": "lorry"},
                                          {"op": "delete", "label": "person"}])
    spec["labels"] = [{"name": "vehicle", "tools": ["bbox"], "attributes": [
        {"name": "colour", "type": "enum", "options": ["red", "blue", "other"]}]}]
    v3 = _publish(org_a, actor, recipe, spec, [{"op": "merge", "from": ["car", "lorry"], "to": "vehicle"}])
    client = api_for(owner_a)

    preview = client.get(f"/api/v1/recipes/{recipe.pk}/migration-preview/").json()
    assert preview == {"to_version": 3, "total": 4, "unchanged": 0,
                       "relabel": [{"from": "car", "to": "vehicle", "count": 1},
                                   {"from": "truck", "to": "vehicle", "count": 2}],
                       "delete": [{"label": "person", "count": 1}]}
    assert set(Annotation.objects.values_list("label", flat=True)) == {"car", "truck", "person"}  # nothing yet

    started = client.post(f"/api/v1/recipes/{recipe.pk}/migrations/", {}, format="json")
    assert started.status_code == 202, started.content
    assert OutboxMessage.objects.filter(actor_name="migrate_labels").exists()
    run = _run_to_end(started.json()["id"])

    assert (run.status, run.processed, run.relabelled, run.deleted) == ("done", 4, 3, 1)
    rows = list(Annotation.objects.filter(item=item).order_by("id"))
    assert [(a.label, a.recipe_version_id, a.version) for a in rows] == [("vehicle", v3.pk, 2)] * 3
    assert rows[0].attributes == {"colour": "red"}  # "plate" is not an attribute of the new label
    assert AnnotationRevision.objects.filter(action="migrated").count() == 3
    assert AnnotationRevision.objects.filter(action="deleted").count() == 1
    assert client.get(f"/api/v1/label-migrations/{run.pk}/").json()["status"] == "done"
    assert {"recipe.migration_started", "recipe.migration_applied"} <= set(
        AuditEvent.objects.filter(organization=org_a).values_list("action", flat=True))
    again = _run_to_end(run.pk)  # a redelivered message changes nothing twice
    assert again.processed == 4


def test_split_by_attribute_with_a_default(street, org_a, owner_a):
    actor, item, recipe = owner_a.user, street["item"], street["recipe"]
    _draw(org_a, actor, item, ("car", {"colour": "red"}), ("car", {"colour": "blue"}), ("car", {"colour": "other"}))
    spec = street_spec()
    spec["labels"][0]["name"] = "red car"
    spec["labels"].append({"name": "blue car", "tools": ["bbox"]})
    spec["labels"].append({"name": "other car", "tools": ["bbox"]})
    _publish(org_a, actor, recipe, spec, [{"op": "split", "from": "car", "attribute": "colour",
                                           "cases": {"red": "red car", "blue": "blue car"}, "default": "other car"}])
    run = LabelMigrationRun.objects.create(organization=org_a, recipe=recipe, to_version=recipe.versions.get(number=2),
                                           created_by=actor)

    _run_to_end(run.pk)

    assert list(Annotation.objects.order_by("id").values_list("label", flat=True)) == [
        "red car", "blue car", "other car"]


@pytest.mark.parametrize("migration,path", [
    ([], "migration"),  # "truck" disappears without an operation
    ([{"op": "rename", "from": "lorry", "to": "lorry"}], "migration.0.from"),
    ([{"op": "rename", "from": "truck", "to": "bus"}], "migration.0.to"),
    ([{"op": "rename", "from": "truck", "to": "lorry"}, {"op": "delete", "label": "truck"}], "migration.1"),
    ([{"op": "explode"}], "migration.0.op"),
    ([{"op": "split", "from": "truck", "attribute": "a", "cases": {"x": "lorry"}}], "migration.0.default"),
])
def test_bad_migration_maps_are_refused_before_publishing(migration, path, street, org_a, owner_a, api_for):
    recipe = street["recipe"]
    spec = street_spec()
    spec["labels"][1]["name"] = "lorry"
    client = api_for(owner_a)
    client.patch(f"/api/v1/recipes/{recipe.pk}/", {"spec": spec}, format="json")

    response = client.post(f"/api/v1/recipes/{recipe.pk}/publish/", {"migration": migration}, format="json")

    assert response.status_code == 400
    assert path in response.json()["errors"], response.json()
    assert recipe.versions.count() == 1
