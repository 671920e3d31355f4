"""Suggestion outcomes recorded from the studio's saves (the changes API), and each version's agreement figures."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.annotations.models import Annotation
from apps.automation.models import SuggestionOutcome
from apps.automation.services import preannotation_replace
from tests.automation.factories import TEXT_SPEC, registered_classifier
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe

MODEL = {"source": "model", "review_state": "proposed"}
CAR = {**MODEL, "type": "bbox", "label": "car", "geometry": {"x": 10, "y": 10, "w": 100, "h": 60}, "confidence": 0.9}
PERSON = {**MODEL, "type": "bbox", "label": "person", "geometry": {"x": 200, "y": 200, "w": 50, "h": 100}}
TEXT = {**MODEL, "type": "bbox", "label": "text", "geometry": {"x": 400, "y": 50, "w": 80, "h": 40}, "confidence": 0.7}


@pytest.fixture
def scene(org_a, owner_a, api_for):
    dataset = DatasetFactory(organization=org_a, name="Signs")
    _recipe, recipe_version = published_recipe(org_a, owner_a.user, name="Things", spec=TEXT_SPEC, dataset=dataset)
    item = ItemFactory(dataset=dataset)
    version = registered_classifier(org_a, owner_a.user, recipe_version=recipe_version, name="Detector")
    preannotation_replace(org=org_a, actor=owner_a.user, item=item, model_version=version,
                          annotations=[CAR, PERSON, TEXT])
    by_label = {a.label: a for a in Annotation.objects.filter(item=item, review_state="proposed")}
    return {"item": item, "version": version, "client": api_for(owner_a), "suggestions": by_label}


def save(scene, **body):
    response = scene["client"].post(f"/api/v1/items/{scene['item'].pk}/annotations/changes/", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def current(annotation):
    annotation.refresh_from_db()
    return {"id": annotation.pk, "version": annotation.version}


def agreement(scene, **params):
    response = scene["client"].get(f"/api/v1/model-versions/{scene['version'].pk}/agreement/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_accepting_a_suggestion_unchanged_counts_as_accepted(scene, owner_a):
    car = scene["suggestions"]["car"]

    save(scene, update=[{**current(car), "review_state": ""}])

    figures = agreement(scene)
    assert figures["counts"] | {} == {"accepted": 1, "edited": 0, "rejected": 0, "missed": 0, "resolved": 1,
                                      "open": 2, "label_changed": 0, "items": 1}
    assert (figures["acceptance_rate"], figures["precision"], figures["recall"]) == (1.0, 1.0, 1.0)
    outcome = SuggestionOutcome.objects.get(suggestion_id=car.pk)
    assert (outcome.actor, outcome.iou) == (owner_a.user, 1.0)


def test_moving_a_suggestion_then_accepting_it_counts_as_edited_with_its_iou(scene):
    car = scene["suggestions"]["car"]

    save(scene, update=[{**current(car), "geometry": {"x": 60, "y": 10, "w": 100, "h": 60}}])  # still proposed
    save(scene, update=[{**current(car), "review_state": ""}])

    figures = agreement(scene)
    assert (figures["counts"]["accepted"], figures["counts"]["edited"]) == (0, 1)
    assert figures["edit_rate"] == 1.0
    assert figures["mean_iou_edited"] == pytest.approx(50 * 60 / (150 * 60), abs=1e-4)  # 1/3
    outcome = SuggestionOutcome.objects.get(suggestion_id=car.pk)
    assert (outcome.geometry_changed, outcome.label_changed) == (True, False)


def test_accepting_with_another_label_counts_as_edited_with_the_label_changed(scene):
    person = scene["suggestions"]["person"]

    save(scene, update=[{**current(person), "label": "car", "review_state": ""}])

    figures = agreement(scene)
    assert (figures["counts"]["edited"], figures["counts"]["label_changed"]) == (1, 1)
    assert figures["mean_iou_edited"] == 1.0  # the shape was kept as suggested
    assert SuggestionOutcome.objects.get(suggestion_id=person.pk).geometry_changed is False


def test_deleting_a_suggestion_counts_as_rejected(scene):
    text = scene["suggestions"]["text"]

    save(scene, delete=[current(text)])

    figures = agreement(scene)
    assert (figures["counts"]["rejected"], figures["counts"]["open"]) == (1, 2)
    assert (figures["rejection_rate"], figures["precision"]) == (1.0, 0.0)


def test_saving_again_updates_the_one_outcome_rather_than_adding_one(scene):
    car = scene["suggestions"]["car"]
    save(scene, update=[{**current(car), "review_state": ""}])

    save(scene, update=[{**current(car), "review_state": ""}])  # the same content: no change at all
    save(scene, update=[{**current(car), "geometry": {"x": 20, "y": 10, "w": 100, "h": 60}}])  # then moved

    outcomes = SuggestionOutcome.objects.filter(suggestion_id=car.pk)
    assert outcomes.count() == 1
    assert outcomes.get().outcome == "edited"
    assert agreement(scene)["counts"]["resolved"] == 1


def test_undoing_an_acceptance_makes_the_suggestion_open_again(scene):
    car = scene["suggestions"]["car"]
    save(scene, update=[{**current(car), "review_state": ""}])

    save(scene, update=[{**current(car), "review_state": "proposed"}])

    figures = agreement(scene)
    assert (figures["counts"]["resolved"], figures["counts"]["open"]) == (0, 3)
    assert figures["acceptance_rate"] is None


def test_undoing_a_rejection_makes_the_suggestion_open_again(scene):
    text = scene["suggestions"]["text"]
    save(scene, delete=[current(text)])

    # The studio's undo creates the deleted suggestion again, under a new id.
    revived = save(scene, create=[{**TEXT, "recipe_version": text.recipe_version_id}])["created"][0]
    save(scene, update=[{"id": revived["id"], "version": 1, "review_state": ""}])

    figures = agreement(scene)
    assert (figures["counts"]["rejected"], figures["counts"]["accepted"], figures["counts"]["open"]) == (0, 1, 2)


def test_a_shape_people_draw_where_nothing_was_suggested_is_a_miss(scene):
    save(scene, create=[{"type": "bbox", "label": "person", "geometry": {"x": 500, "y": 300, "w": 40, "h": 90}},
                        # over the open car suggestion: the model found it, not a miss
                        {"type": "bbox", "label": "car", "geometry": {"x": 12, "y": 10, "w": 100, "h": 60}}])
    text = scene["suggestions"]["text"]
    save(scene, update=[{**current(text), "review_state": ""}])

    figures = agreement(scene)
    assert (figures["counts"]["accepted"], figures["counts"]["missed"]) == (1, 1)
    assert figures["recall"] == 0.5


def test_a_miss_stops_counting_once_the_shape_is_deleted(scene):
    created = save(scene, create=[{"type": "bbox", "label": "text", "geometry": {"x": 5, "y": 300, "w": 30, "h": 30}}])
    assert agreement(scene)["counts"]["missed"] == 1

    save(scene, delete=[{"id": created["created"][0]["id"], "version": 1}])

    assert agreement(scene)["counts"]["missed"] == 0


def test_a_model_rerun_replacing_open_suggestions_rejects_nothing(scene, org_a, owner_a):
    preannotation_replace(org=org_a, actor=owner_a.user, item=scene["item"], model_version=scene["version"],
                          annotations=[CAR])

    figures = agreement(scene)
    assert (figures["counts"]["rejected"], figures["counts"]["open"]) == (0, 1)


def test_the_period_counts_only_outcomes_resolved_in_it(scene):
    save(scene, update=[{**current(scene["suggestions"]["car"]), "review_state": ""}])
    later = (timezone.now() + timedelta(hours=1)).isoformat()

    assert agreement(scene, until=later)["counts"]["accepted"] == 1
    assert agreement(scene, since=later)["counts"]["accepted"] == 0


@pytest.mark.parametrize("params,field", [({"since": "yesterday"}, "since"),
                                          ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                                           "until")])
def test_a_bad_period_answers_400_naming_the_field(scene, params, field):
    response = scene["client"].get(f"/api/v1/model-versions/{scene['version'].pk}/agreement/", params)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_another_tenants_version_answers_404(scene, org_b, owner_b):
    _recipe, recipe_version = published_recipe(org_b, owner_b.user, name="Theirs", spec=TEXT_SPEC)
    foreign = registered_classifier(org_b, owner_b.user, recipe_version=recipe_version)

    response = scene["client"].get(f"/api/v1/model-versions/{foreign.pk}/agreement/")

    assert response.status_code == 404


def test_the_model_page_shows_each_versions_figures(scene, client, owner_a):
    save(scene, update=[{**current(scene["suggestions"]["car"]), "review_state": ""}],
         delete=[current(scene["suggestions"]["text"])])
    client.force_login(owner_a.user)

    response = client.get(f"/o/acme/models/{scene['version'].model_id}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Agreement with people, by version" in page
    assert '<th scope="col" data-version="1">v1</th>' in page
    assert '<td data-figure="accepted">1</td>' in page
    assert '<td data-figure="rejected">1</td>' in page
    assert '<td data-figure="acceptance_rate">0.50</td>' in page


def test_the_model_page_says_what_is_wrong_with_a_bad_period(scene, client, owner_a):
    client.force_login(owner_a.user)

    response = client.get(f"/o/acme/models/{scene['version'].model_id}/", {"since": "soon"})

    assert response.status_code == 400
    assert "Enter a valid date/time." in response.content.decode()


def test_the_model_list_links_each_model_and_escapes_its_name(org_a, owner_a, client):
    from apps.automation.services import model_create

    model = model_create(org=org_a, actor=owner_a.user, name="<script>alert(1)</script>", task_type="detection")
    client.force_login(owner_a.user)

    page = client.get("/o/acme/models/").content.decode()

    assert f'href="/o/acme/models/{model.pk}/"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_another_tenants_model_page_answers_404(org_a, owner_a, org_b, owner_b, client):
    from apps.automation.services import model_create

    foreign = model_create(org=org_b, actor=owner_b.user, name="Theirs", task_type="detection")
    client.force_login(owner_a.user)

    assert client.get(f"/o/acme/models/{foreign.pk}/").status_code == 404
