"""Units annotate in their own layer; what follows a submit: promotion, consensus, gold scoring, qualification."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.annotations.models import Annotation
from apps.workforce.models import ConsensusResult, GoldScore, Qualification, WorkItem

pytestmark = pytest.mark.django_db


def box(x=10, label="truck", w=100):
    shape = {"type": "bbox", "label": label, "geometry": {"x": x, "y": 10, "w": w, "h": 50}}
    return {**shape, "attributes": {"colour": "red"}} if label == "car" else shape


def _pull(client, task):
    response = client.post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _draw(client, unit, *shapes):
    response = client.post(f"/api/v1/items/{unit['item']}/annotations/changes/",
                           {"layer": unit["layer"], "create": list(shapes)}, format="json")
    assert response.status_code == 200, response.content
    return response


def test_a_unit_holder_annotates_only_in_the_units_layer_while_the_lease_lives(make_task, team, api_for):
    task = make_task(n_items=2)
    a, b = api_for(team["annotators"][0]), api_for(team["annotators"][1])
    unit = _pull(a, task)
    assert unit["layer"] == unit["id"] and unit["recipe_version"] == task.recipe_version_id

    _draw(a, unit, box())
    shared = a.post(f"/api/v1/items/{unit['item']}/annotations/changes/", {"create": [box()]}, format="json")
    foreign = b.post(f"/api/v1/items/{unit['item']}/annotations/changes/",
                     {"layer": unit["layer"], "create": [box()]}, format="json")
    assert shared.status_code == 404 and foreign.status_code == 404
    assert a.get(f"/api/v1/items/{unit['item']}/annotations/?layer={unit['layer']}").json()[0]["layer"] == unit["id"]

    WorkItem.objects.filter(pk=unit["id"]).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    late = a.post(f"/api/v1/items/{unit['item']}/annotations/changes/",
                  {"layer": unit["layer"], "create": [box()]}, format="json")
    assert late.status_code == 404
    assert a.get(f"/api/v1/items/{unit['item']}/annotations/?layer={unit['layer']}").status_code == 200


def test_submitted_work_replaces_the_items_shared_annotations(make_task, team, api_for, owner_a):
    task = make_task(n_items=1)
    client = api_for(team["annotators"][0])
    unit = _pull(client, task)
    owner = api_for(owner_a)
    owner.post(f"/api/v1/items/{unit['item']}/annotations/", box(x=300), format="json")  # an older answer
    _draw(client, unit, box(x=5), box(x=200))

    assert client.post(f"/api/v1/work-items/{unit['id']}/submit/").json()["state"] == "done"

    shared = owner.get(f"/api/v1/items/{unit['item']}/annotations/").json()
    assert sorted(a["geometry"]["x"] for a in shared) == [5, 200]
    assert all(a["layer"] is None for a in shared)


def test_consensus_that_agrees_is_merged(make_task, team, api_for, owner_a):
    task = make_task(n_items=1, consensus=2)
    a, b = (api_for(m) for m in team["annotators"][:2])
    unit_a, unit_b = _pull(a, task), _pull(b, task)
    _draw(a, unit_a, box(x=10))
    _draw(b, unit_b, box(x=14))  # IoU 0.92

    a.post(f"/api/v1/work-items/{unit_a['id']}/submit/")
    assert Annotation.objects.filter(item_id=unit_a["item"], layer__isnull=True).count() == 0  # waits for b
    b.post(f"/api/v1/work-items/{unit_b['id']}/submit/")

    result = ConsensusResult.objects.get(task=task)
    assert result.outcome == "merged" and result.score == 1.0
    assert Annotation.objects.filter(item_id=unit_a["item"], layer__isnull=True).count() == 1
    assert set(WorkItem.objects.filter(task=task).values_list("state", flat=True)) == {"done"}


def test_consensus_that_disagrees_goes_to_review(make_task, team, api_for):
    task = make_task(n_items=1, consensus=2)
    a, b = (api_for(m) for m in team["annotators"][:2])
    unit_a, unit_b = _pull(a, task), _pull(b, task)
    _draw(a, unit_a, box(x=10))
    _draw(b, unit_b, box(x=400, label="car"))

    a.post(f"/api/v1/work-items/{unit_a['id']}/submit/")
    b.post(f"/api/v1/work-items/{unit_b['id']}/submit/")

    result = ConsensusResult.objects.get(task=task)
    assert result.outcome == "review" and result.score == 0.0
    review = api_for(team["reviewer"]).post(f"/api/v1/tasks/{task.pk}/next/", {"stage": "review"},
                                            format="json").json()
    assert review["stage"] == "review" and review["layer"] == result.chosen_id
    assert Annotation.objects.filter(item_id=unit_a["item"], layer__isnull=True).count() == 0


def test_honeypots_are_scored_and_never_promoted(make_task, team, api_for, owner_a, org_a):
    task = make_task(n_items=3, honeypot_rate=0.5)
    gold_item = WorkItem.objects.filter(task=task).first().item
    owner = api_for(owner_a)
    owner.post(f"/api/v1/items/{gold_item.pk}/annotations/", box(x=10), format="json")
    assert owner.post(f"/api/v1/tasks/{task.pk}/gold/", {"item_id": gold_item.pk}, format="json").status_code == 201
    task.honeypot_rate = 0.999
    task.save(update_fields=["honeypot_rate"])
    client = api_for(team["annotators"][0])

    unit = _pull(client, task)
    assert unit["item"] == gold_item.pk and "is_gold" not in unit
    _draw(client, unit, box(x=12))
    submitted = client.post(f"/api/v1/work-items/{unit['id']}/submit/").json()

    assert submitted["feedback"] is None  # not a training task: nothing gives the honeypot away
    score = GoldScore.objects.get(work_item_id=unit["id"])
    assert score.score == 1.0 and score.user_id == team["annotators"][0].user_id
    assert [a.geometry["x"] for a in Annotation.objects.filter(item=gold_item, layer__isnull=True)] == [10]
    assert _pull(client, task)["item"] != gold_item.pk  # each gold item once per person


def test_qualification_gates_a_task_and_training_shows_where_you_differed(make_task, team, api_for, owner_a, org_a):
    training = make_task(n_items=2, is_training=True, pass_threshold=0.75)
    owner = api_for(owner_a)
    for unit in WorkItem.objects.filter(task=training):
        owner.post(f"/api/v1/items/{unit.item_id}/annotations/", box(x=10), format="json")
        owner.post(f"/api/v1/tasks/{training.pk}/gold/", {"item_id": unit.item_id}, format="json")
    work = make_task(n_items=1)
    work.qualification = training
    work.save(update_fields=["qualification"])
    client = api_for(team["annotators"][0])

    refused = client.post(f"/api/v1/tasks/{work.pk}/next/", {}, format="json")
    assert refused.status_code == 403 and "qualification" in refused.json()["detail"]

    first = _pull(client, training)
    _draw(client, first, box(x=10))
    feedback = client.post(f"/api/v1/work-items/{first['id']}/submit/").json()["feedback"]
    assert feedback["score"] == 1.0
    second = _pull(client, training)
    _draw(client, second, box(x=10), box(x=300, label="car"))
    assert client.post(f"/api/v1/work-items/{second['id']}/submit/").json()["feedback"]["score"] < 1.0

    qualification = Qualification.objects.get(training_task=training, user=team["annotators"][0].user)
    assert qualification.passed and 0.75 <= qualification.score < 1.0
    assert client.post(f"/api/v1/tasks/{work.pk}/next/", {}, format="json").status_code == 200


def test_a_revoked_qualification_is_retaken_in_the_training_task(make_task, team, api_for, owner_a):
    from apps.quality.models import QualityThreshold
    from apps.quality.services import evaluate_thresholds
    from tests.quality.samples import Samples

    training = make_task(n_items=1, is_training=True, pass_threshold=0.75)
    owner = api_for(owner_a)
    gold_item = WorkItem.objects.get(task=training).item_id
    owner.post(f"/api/v1/items/{gold_item}/annotations/", box(x=10), format="json")
    owner.post(f"/api/v1/tasks/{training.pk}/gold/", {"item_id": gold_item}, format="json")
    work = make_task(n_items=3)
    work.qualification = training
    work.save(update_fields=["qualification"])
    client = api_for(team["annotators"][0])
    user = team["annotators"][0].user
    first = _pull(client, training)
    _draw(client, first, box(x=10))
    client.post(f"/api/v1/work-items/{first['id']}/submit/")
    assert client.post(f"/api/v1/tasks/{work.pk}/next/", {}, format="json").status_code == 200

    QualityThreshold.objects.create(organization_id=work.organization_id, task=work, action="requalify",
                                    min_score=0.6, min_samples=1)
    Samples(work).gold(user, 0.2)
    evaluate_thresholds(task=work, user_ids=[user.pk])  # revoked
    assert client.post(f"/api/v1/tasks/{work.pk}/next/", {}, format="json").status_code == 403

    retake = _pull(client, training)  # the same gold item, served again
    assert retake["item"] == gold_item and retake["id"] != first["id"]
    _draw(client, retake, box(x=10))
    client.post(f"/api/v1/work-items/{retake['id']}/submit/")

    qualification = Qualification.objects.get(training_task=training, user=user)
    assert qualification.passed and qualification.score == 1.0
    assert client.post(f"/api/v1/tasks/{work.pk}/next/", {}, format="json").status_code == 200
    assert client.post(f"/api/v1/tasks/{training.pk}/next/", {}, format="json").status_code == 204  # done again


def test_a_failed_training_is_not_served_again(make_task, team, api_for, owner_a):
    training = make_task(n_items=1, is_training=True, pass_threshold=0.75)
    gold_item = WorkItem.objects.get(task=training).item_id
    api_for(owner_a).post(f"/api/v1/items/{gold_item}/annotations/", box(x=10), format="json")
    api_for(owner_a).post(f"/api/v1/tasks/{training.pk}/gold/", {"item_id": gold_item}, format="json")
    client = api_for(team["annotators"][0])
    unit = _pull(client, training)
    _draw(client, unit, box(x=300))
    client.post(f"/api/v1/work-items/{unit['id']}/submit/")

    assert Qualification.objects.get(training_task=training, user=team["annotators"][0].user).passed is False
    assert client.post(f"/api/v1/tasks/{training.pk}/next/", {}, format="json").status_code == 204
