"""Suggestion outcomes in the queue studio: a unit's submitted layer, matched to the suggestions its person was
shown, through the real pull / save / submit API."""

import pytest
from django.db.models import Count

from apps.annotations.models import Annotation
from apps.automation.agreement import on_unit_submitted
from apps.automation.models import SuggestionOutcome
from apps.automation.services import preannotation_replace
from apps.tenancy.roles import Role
from apps.workforce.models import WorkItem
from apps.workforce.services import task_create
from tests.automation.factories import TEXT_SPEC, registered_classifier
from tests.automation.test_agreement import CAR, PERSON, TEXT
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe

pytestmark = pytest.mark.django_db


@pytest.fixture
def unit_scene(org_a, owner_a, make_member, api_for):
    annotator = make_member(org_a, Role.ANNOTATOR)
    dataset = DatasetFactory(organization=org_a, name="Signs")
    _recipe, recipe_version = published_recipe(org_a, owner_a.user, name="Things", spec=TEXT_SPEC, dataset=dataset)
    item = ItemFactory(dataset=dataset)
    version = registered_classifier(org_a, owner_a.user, recipe_version=recipe_version, name="Detector")
    preannotation_replace(org=org_a, actor=owner_a.user, item=item, model_version=version,
                          annotations=[CAR, PERSON, TEXT])
    task = task_create(org=org_a, actor=owner_a.user, dataset=dataset, recipe_version=recipe_version, name="Label",
                       members=[{"user_id": annotator.user_id, "role": "annotator"}],
                       review_ratio=1.0)  # every unit goes to a reviewer: its layer stays a layer
    client = api_for(annotator)
    unit = client.post(f"/api/v1/tasks/{task.pk}/next/", {"stage": "annotate"}, format="json").json()
    return {"item": item, "version": version, "client": client, "unit": unit, "owner_client": api_for(owner_a)}


def copy(suggestion: dict, **changes) -> dict:
    """What the queue studio sends when a suggestion is accepted into the unit's layer."""
    fields = {k: v for k, v in suggestion.items() if k != "confidence"}
    return {**fields, "review_state": "", **changes}


def test_a_submitted_unit_counts_kept_edited_left_out_and_missed_suggestions(unit_scene):
    client, unit, item = unit_scene["client"], unit_scene["unit"], unit_scene["item"]
    saved = client.post(f"/api/v1/items/{item.pk}/annotations/changes/", {"layer": unit["id"], "create": [
        copy(CAR),
        copy(PERSON, geometry={"x": 210, "y": 200, "w": 50, "h": 100}),
        {"type": "bbox", "label": "text", "geometry": {"x": 500, "y": 400, "w": 40, "h": 20}},  # nothing suggested
    ]}, format="json")
    assert saved.status_code == 200, saved.content

    submitted = client.post(f"/api/v1/work-items/{unit['id']}/submit/")

    assert submitted.status_code == 200
    figures = unit_scene["owner_client"].get(
        f"/api/v1/model-versions/{unit_scene['version'].pk}/agreement/").json()
    assert {k: figures["counts"][k] for k in ("accepted", "edited", "rejected", "missed", "open")} == {
        "accepted": 1, "edited": 1, "rejected": 1, "missed": 1, "open": 0}
    assert figures["mean_iou_edited"] == pytest.approx(40 * 100 / (60 * 100), abs=1e-4)
    assert (figures["precision"], figures["recall"]) == (pytest.approx(2 / 3, abs=1e-4), pytest.approx(2 / 3,
                                                                                                       abs=1e-4))


def test_the_source_the_page_sends_decides_nothing(unit_scene):
    client, unit, item = unit_scene["client"], unit_scene["unit"], unit_scene["item"]
    client.post(f"/api/v1/items/{item.pk}/annotations/changes/", {"layer": unit["id"], "create": [
        {**copy(CAR), "source": "human"},  # the suggestion's box, claimed as the person's own
        {"type": "bbox", "label": "person", "geometry": {"x": 500, "y": 400, "w": 40, "h": 20}, "source": "model"},
    ]}, format="json")

    client.post(f"/api/v1/work-items/{unit['id']}/submit/")

    outcomes = dict(SuggestionOutcome.objects.filter(layer=unit["id"]).values_list("outcome").annotate(n=Count("id")))
    assert outcomes == {"accepted": 1, "rejected": 2, "missed": 1}


def test_recomputing_a_submitted_unit_changes_nothing(unit_scene, org_a):
    client, unit, item = unit_scene["client"], unit_scene["unit"], unit_scene["item"]
    client.post(f"/api/v1/items/{item.pk}/annotations/changes/", {"layer": unit["id"], "create": [copy(CAR)]},
                format="json")
    client.post(f"/api/v1/work-items/{unit['id']}/submit/")
    before = sorted(SuggestionOutcome.objects.filter(layer=unit["id"]).values_list("suggestion_id", "outcome"))
    work = WorkItem.objects.get(pk=unit["id"])

    on_unit_submitted(org=org_a, actor=work.assignee, item=item, layer=work.pk, at=work.submitted_at)

    after = sorted(SuggestionOutcome.objects.filter(layer=unit["id"]).values_list("suggestion_id", "outcome"))
    assert before == after and len(after) == 3
    assert Annotation.objects.filter(item=item, review_state="proposed", layer__isnull=True).count() == 3
