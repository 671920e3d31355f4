"""Each review of a unit is a round; its comments belong to it (pinned to an annotation or not). The annotator is
shown the latest rejection's comments; earlier rounds stay as history."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection

from apps.workforce.models import ReviewComment, ReviewRound, WorkEvent, WorkItem
from apps.workforce.unit_services import review_decide, task_next, work_item_submit

pytestmark = pytest.mark.django_db


def pull(membership, task, stage="annotate") -> WorkItem:
    unit, _resumed = task_next(org=task.organization, actor=membership.user, task=task, stage=stage)
    assert unit is not None
    return WorkItem.objects.get(pk=unit.pk)


def render(unit):
    return {"id": unit.pk}


def submit_and_review(task, annotator, reviewer, *, approve, comments):
    unit = pull(annotator, task)
    work_item_submit(org=task.organization, actor=annotator.user, unit=unit, render=render)
    review = pull(reviewer, task, stage="review")
    review_decide(org=task.organization, actor=reviewer.user, unit=review, approve=approve, comments=comments,
                  render=render)
    return unit


def test_each_review_is_a_round_holding_its_comments(make_task, team, api_for):
    task = make_task(n_items=1, review_ratio=1)
    annotator, reviewer = team["annotators"][0], team["reviewer"]
    unit = submit_and_review(task, annotator, reviewer, approve=False,
                             comments=[{"text": "Box is loose", "annotation_id": 7}, {"text": "Missed a car"}])
    submit_and_review(task, annotator, reviewer, approve=False, comments=[{"text": "Still loose"}])
    submit_and_review(task, annotator, reviewer, approve=True, comments=[])

    rounds = list(ReviewRound.objects.filter(work_item=unit).order_by("number").values_list("number", "decision"))
    assert rounds == [(1, "rejected"), (2, "rejected"), (3, "approved")]
    body = api_for(annotator).get(f"/api/v1/work-items/{unit.pk}/comments/").json()["results"]
    by_round = sorted((c["round"]["number"], c["text"], c["annotation_id"]) for c in body)
    assert by_round == [(1, "Box is loose", 7), (1, "Missed a car", None), (2, "Still loose", None)]
    assert {c["round"]["reviewer"] for c in body} == {reviewer.user.email}
    assert WorkEvent.objects.get(work_item=unit, kind="rejected", data__round=2)


def test_my_work_history_shows_each_rejection_with_its_own_rounds_comments(make_task, team, client):
    task = make_task(n_items=1, review_ratio=1)
    annotator, reviewer = team["annotators"][0], team["reviewer"]
    submit_and_review(task, annotator, reviewer, approve=False, comments=[{"text": "First round note"}])
    submit_and_review(task, annotator, reviewer, approve=False, comments=[{"text": "Second round note"}])
    client.force_login(annotator.user)

    page = client.get(f"/o/{task.organization.slug}/work/").content.decode()

    history = page[page.index('id="history"'):]
    assert history.count("First round note") == 1 and history.count("Second round note") == 1
    assert history.index("Second round note") < history.index("First round note")  # newest first


def test_the_migration_gives_existing_comments_the_round_of_their_rejection(make_task, team, org_a):
    task = make_task(n_items=1, review_ratio=1)
    annotator, reviewer = team["annotators"][0], team["reviewer"]
    unit = submit_and_review(task, annotator, reviewer, approve=False, comments=[{"text": "one"}])
    submit_and_review(task, annotator, reviewer, approve=False, comments=[{"text": "two"}, {"text": "three"}])
    # As the rows were before review rounds existed.
    ReviewComment.objects.update(round=None)
    ReviewRound.objects.all().delete()
    orphan = ReviewComment.objects.create(organization=org_a, work_item=unit, author=reviewer.user, text="late")
    migration = importlib.import_module("apps.workforce.migrations.0006_review_rounds")

    migration.rounds_for_existing_comments(django_apps, SimpleNamespace(connection=connection))

    numbers = dict(ReviewComment.objects.values_list("text", "round__number"))
    assert numbers == {"one": 1, "two": 2, "three": 2, "late": 3}
    assert ReviewRound.objects.get(work_item=unit, number=1).reviewer_id == reviewer.user_id
    assert ReviewComment.objects.get(pk=orphan.pk).round.decision == "rejected"


# --- Reviewer corrections ---------------------------------------------------------------------------------------

def _changes(client, unit, **change):
    return client.post(f"/api/v1/items/{unit['item']}/annotations/changes/", {"layer": unit["layer"], **change},
                       format="json")


def test_a_reviewer_corrects_the_work_before_approving_and_the_correction_is_promoted(make_task, team, api_for):
    from apps.annotations.models import Annotation, AnnotationRevision

    task = make_task(n_items=1, review_ratio=1)
    annotator, reviewer = api_for(team["annotators"][0]), api_for(team["reviewer"])
    work = annotator.post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").json()
    drawn = _changes(annotator, work, create=[{"type": "bbox", "label": "truck",
                                               "geometry": {"x": 5, "y": 5, "w": 20, "h": 20}}]).json()["created"][0]
    annotator.post(f"/api/v1/work-items/{work['id']}/submit/")
    review = reviewer.post(f"/api/v1/tasks/{task.pk}/next/", {"stage": "review"}, format="json").json()
    assert review["layer"] == work["id"]

    corrected = _changes(reviewer, review, update=[{"id": drawn["id"], "version": drawn["version"],
                                                    "geometry": {"x": 50, "y": 5, "w": 20, "h": 20}}])
    meddling = _changes(annotator, work, update=[{"id": drawn["id"], "version": drawn["version"] + 1,
                                                  "geometry": {"x": 1, "y": 1, "w": 2, "h": 2}}])
    decided = reviewer.post(f"/api/v1/work-items/{review['id']}/review/", {"decision": "approve"}, format="json")

    assert corrected.status_code == 200 and meddling.status_code == 404 and decided.status_code == 200
    shared = Annotation.objects.get(item_id=work["item"], layer=None)
    assert shared.geometry["x"] == 50
    by_reviewer = AnnotationRevision.objects.filter(annotation_id=drawn["id"], actor=team["reviewer"].user,
                                                    action="updated")
    assert by_reviewer.filter(changed__contains=["geometry"]).count() == 1
    round_ = ReviewRound.objects.get(work_item_id=work["id"])
    assert (round_.decision, round_.corrections) == ("approved", 1)
    assert WorkEvent.objects.get(work_item_id=review["id"], kind="approved").data["corrections"] == 1
    late = _changes(reviewer, review, update=[{"id": shared.pk, "version": shared.version,
                                               "geometry": {"x": 9, "y": 9, "w": 2, "h": 2}}])
    assert late.status_code == 404


def test_the_review_page_lets_the_reviewer_edit(make_task, team, client):
    import json
    import re

    task = make_task(n_items=1, review_ratio=1)
    client.force_login(team["reviewer"].user)

    page = client.get(f"/o/{task.organization.slug}/tasks/{task.pk}/review/").content.decode()

    data = json.loads(re.search(r'<script id="studio-data" type="application/json">(.*?)</script>', page, re.S)[1])
    assert data["can_edit"] is True and data["queue"]["stage"] == "review"
    assert 'id="undo"' in page and 'id="save-now"' in page
