"""A model batch's suggestions are written for all its items at once: the queries do not grow with the batch, and
what is written (annotations, revisions, audit events, per item) is what one annotations_change per item writes."""

import pytest

from apps.annotations.models import Annotation, AnnotationRevision
from apps.annotations.services import annotations_change
from apps.automation.agreement import suggestions_replacing
from apps.automation.models import PreAnnotation, SuggestionOutcome
from apps.automation.services import preannotations_replace
from apps.compliance.models import AuditEvent
from apps.datasets.models import Item
from tests.automation.factories import TEXT_SPEC, registered_classifier
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe

MODEL = {"source": "model", "review_state": "proposed"}
CAR = {**MODEL, "type": "bbox", "label": "car", "geometry": {"x": 10, "y": 10, "w": 100, "h": 60}, "confidence": 0.9}
PERSON = {**MODEL, "type": "bbox", "label": "person", "geometry": {"x": 200, "y": 200, "w": 50, "h": 100}}
TEXT = {**MODEL, "type": "bbox", "label": "text", "geometry": {"x": 400, "y": 50, "w": 80, "h": 40}, "confidence": 0.7}
DRAGON = {**MODEL, "type": "bbox", "label": "dragon", "geometry": {"x": 1, "y": 1, "w": 5, "h": 5}}
# Whatever the batch's size: the transaction's savepoint and its release, PreAnnotation insert and lock, previous
# suggestions, the recipe version, the items' annotation counts, annotations insert, delete, revisions insert, audit
# insert, PreAnnotation update, and the misses: annotations, clearing, records and outcomes.
QUERY_BUDGET = 16


@pytest.fixture
def scene(org_a, owner_a):
    dataset = DatasetFactory(organization=org_a, name="Signs")
    _recipe, recipe_version = published_recipe(org_a, owner_a.user, name="Things", spec=TEXT_SPEC, dataset=dataset)
    version = registered_classifier(org_a, owner_a.user, recipe_version=recipe_version, name="Detector")
    return {"dataset": dataset, "version": version, "org": org_a, "actor": owner_a.user}


def run_batch(scene, results):
    return preannotations_replace(org=scene["org"], actor=scene["actor"], model_version=scene["version"],
                                  results=results, provider="CPUExecutionProvider")


def run_per_item(scene, item, annotations):
    """The general path, one item at a time: what a re-run did before it was batched."""
    previous = Annotation.objects.filter(item=item, source="model", review_state="proposed")
    with suggestions_replacing():
        annotations_change(org=scene["org"], actor=scene["actor"], item=item,
                           delete=[{"id": a.pk, "version": a.version} for a in previous],
                           create=[{**a, "recipe_version": scene["version"].recipe_version_id} for a in annotations])


def history(item) -> dict:
    """The item's annotations, revisions and audit events, with annotation ids as their order of creation."""
    revisions = list(AnnotationRevision.objects.filter(item=item).order_by("id"))
    order = {}
    for revision in revisions:
        order.setdefault(revision.annotation_id, len(order))

    def ids(pks):
        return [order[pk] for pk in pks]

    events = AuditEvent.objects.filter(action="annotations.changed", target_id=str(item.pk)).order_by("id")
    return {
        "annotations": [(order[a.pk], a.type, a.label, a.geometry, a.confidence, a.source, a.review_state, a.version)
                        for a in Annotation.objects.filter(item=item).order_by("id")],
        "revisions": [(r.action, order[r.annotation_id], r.version, r.data, r.changed) for r in revisions],
        "events": [(e.target_type, e.metadata["dataset_id"], e.metadata["layer"], ids(e.metadata["created"]),
                    e.metadata["updated"], ids(e.metadata["deleted"])) for e in events],
    }


@pytest.mark.parametrize("size", [2, 12])
def test_a_rerun_of_a_batch_costs_the_same_queries_whatever_its_size(scene, size, django_assert_max_num_queries):
    items = list(Item.objects.filter(pk__in=[i.pk for i in ItemFactory.create_batch(size, dataset=scene["dataset"])]))
    run_batch(scene, [(item, [CAR, PERSON]) for item in items])
    Annotation.objects.filter(pk=Annotation.objects.filter(item=items[0], label="car").get().pk).update(
        review_state="")  # a person kept one: that item's misses are computed, not only cleared

    with django_assert_max_num_queries(QUERY_BUDGET):
        run_batch(scene, [(item, [CAR, TEXT]) for item in items])

    assert Annotation.objects.filter(item__in=items, review_state="proposed").count() == 2 * size


def test_a_batch_writes_what_one_change_per_item_writes(scene):
    batched = ItemFactory.create_batch(3, dataset=scene["dataset"])
    alone = ItemFactory.create_batch(3, dataset=scene["dataset"])
    first, second = [[CAR, PERSON], [TEXT], []], [[CAR], [PERSON, TEXT], [CAR, TEXT]]

    run_batch(scene, list(zip(batched, first, strict=True)))
    run_batch(scene, list(zip(batched, second, strict=True)))
    for item, annotations in [*zip(alone, first, strict=True), *zip(alone, second, strict=True)]:
        run_per_item(scene, item, annotations)

    assert [history(item) for item in batched] == [history(item) for item in alone]
    assert history(batched[0])["events"] == [("datasets.item", scene["dataset"].pk, None, [0, 1], [], []),
                                             ("datasets.item", scene["dataset"].pk, None, [2], [], [0, 1])]


def test_running_a_batch_twice_leaves_one_set_of_suggestions_per_item(scene):
    items = ItemFactory.create_batch(3, dataset=scene["dataset"])

    run_batch(scene, [(item, [CAR, PERSON]) for item in items])
    records = run_batch(scene, [(item, [CAR, PERSON]) for item in items])

    assert [sorted(Annotation.objects.filter(item=item).values_list("label", flat=True)) for item in items] == [
        ["car", "person"]] * 3
    assert [(r.item_id, r.runs, len(r.annotation_ids)) for r in records] == [(item.pk, 2, 2) for item in items]
    assert PreAnnotation.objects.filter(item__in=items).count() == 3


def test_a_suggestion_the_recipe_refuses_is_left_out_without_failing_the_batch(scene):
    items = ItemFactory.create_batch(2, dataset=scene["dataset"])

    run_batch(scene, [(items[0], [DRAGON, CAR]), (items[1], [PERSON])])

    assert [list(Annotation.objects.filter(item=item).values_list("label", flat=True)) for item in items] == [
        ["car"], ["person"]]


def test_a_shape_people_kept_is_a_miss_of_the_batch_that_did_not_suggest_it(scene, org_a, owner_a):
    items = ItemFactory.create_batch(2, dataset=scene["dataset"])
    annotations_change(org=org_a, actor=owner_a.user, item=items[1], create=[
        {"type": "bbox", "label": "text", "geometry": {"x": 400, "y": 50, "w": 80, "h": 40}}])

    run_batch(scene, [(items[0], [CAR]), (items[1], [CAR])])

    assert list(SuggestionOutcome.objects.filter(item__in=items).values_list("item_id", "outcome")) == [
        (items[1].pk, "missed")]
