"""The unit state machine through the API: pull, resume, submit (idempotent), skip, expiry, review, rework."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.workforce.distribution import expire_leases
from apps.workforce.models import ReviewComment, WorkEvent, WorkItem

pytestmark = pytest.mark.django_db


def _next(client, task, stage="annotate"):
    return client.post(f"/api/v1/tasks/{task.pk}/next/", {"stage": stage}, format="json")


def test_pull_resume_submit_and_idempotent_replay(make_task, team, api_for):
    task = make_task(n_items=2)
    client = api_for(team["annotators"][0])

    first = _next(client, task)
    assert first.status_code == 200 and first["X-Resumed"] == "false"
    again = _next(client, task)
    assert again.json()["id"] == first.json()["id"] and again["X-Resumed"] == "true"

    unit_id = first.json()["id"]
    submitted = client.post(f"/api/v1/work-items/{unit_id}/submit/", HTTP_IDEMPOTENCY_KEY="k-1")
    assert submitted.status_code == 200 and submitted.json()["state"] == "done"
    replay = client.post(f"/api/v1/work-items/{unit_id}/submit/", HTTP_IDEMPOTENCY_KEY="k-1")
    assert replay.status_code == 200 and replay.json() == submitted.json()
    second = client.post(f"/api/v1/work-items/{unit_id}/submit/", HTTP_IDEMPOTENCY_KEY="k-2")
    assert second.status_code == 409
    assert WorkEvent.objects.filter(work_item_id=unit_id, kind="submitted").count() == 1


def test_nobody_submits_someone_elses_unit(make_task, team, api_for):
    task = make_task(n_items=2)
    mine = _next(api_for(team["annotators"][0]), task).json()

    response = api_for(team["annotators"][1]).post(f"/api/v1/work-items/{mine['id']}/submit/")

    assert response.status_code == 403
    assert WorkItem.objects.get(pk=mine["id"]).state == "leased"


def test_an_expired_lease_goes_back_to_the_queue_and_cannot_be_submitted(make_task, team, api_for, org_a):
    task = make_task(n_items=1)
    client = api_for(team["annotators"][0])
    unit_id = _next(client, task).json()["id"]
    WorkItem.objects.filter(pk=unit_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    stale = client.post(f"/api/v1/work-items/{unit_id}/submit/")
    assert stale.status_code == 409
    assert expire_leases(org_id=org_a.pk) == 1

    unit = WorkItem.objects.get(pk=unit_id)
    assert (unit.state, unit.assignee_id) == ("queued", None)
    other = _next(api_for(team["annotators"][1]), task)
    assert other.json()["id"] == unit_id
    assert client.post(f"/api/v1/work-items/{unit_id}/submit/").status_code == 409  # reassigned


def test_skip_needs_a_reason_and_serves_the_unit_later(make_task, team, api_for):
    task = make_task(n_items=2)
    client = api_for(team["annotators"][0])
    unit_id = _next(client, task).json()["id"]

    assert client.post(f"/api/v1/work-items/{unit_id}/skip/", {"reason": ""}, format="json").status_code == 400
    skipped = client.post(f"/api/v1/work-items/{unit_id}/skip/", {"reason": "Blurry"}, format="json")

    assert skipped.status_code == 200 and skipped.json()["state"] == "queued"
    assert _next(client, task).json()["id"] != unit_id


def test_consensus_gives_each_item_to_distinct_people(make_task, team, api_for):
    task = make_task(n_items=1, consensus=2)
    a, b, c = (api_for(m) for m in team["annotators"])

    first = _next(a, task).json()
    a.post(f"/api/v1/work-items/{first['id']}/submit/")
    assert _next(a, task).status_code == 204  # the other slot of the same item is not for the same person
    second = _next(b, task).json()
    assert second["item"] == first["item"] and second["slot"] != first["slot"]
    assert _next(c, task).status_code == 204


def test_review_reject_rework_and_approve(make_task, team, api_for):
    task = make_task(n_items=1, review_ratio=1.0)
    annotator, reviewer = api_for(team["annotators"][0]), api_for(team["reviewer"])
    unit_id = _next(annotator, task).json()["id"]
    assert annotator.post(f"/api/v1/work-items/{unit_id}/submit/").json()["state"] == "in_review"
    assert _next(annotator, task, stage="review").status_code == 403  # not a reviewer of this task

    review = _next(reviewer, task, stage="review").json()
    assert review["stage"] == "review"
    no_comment = reviewer.post(f"/api/v1/work-items/{review['id']}/review/", {"decision": "reject"}, format="json")
    assert no_comment.status_code == 400
    rejected = reviewer.post(f"/api/v1/work-items/{review['id']}/review/",
                             {"decision": "reject", "comments": [{"text": "Box too loose"}]}, format="json")
    assert rejected.status_code == 200
    assert WorkItem.objects.get(pk=unit_id).state == "rejected"
    assert ReviewComment.objects.get(work_item_id=unit_id).text == "Box too loose"

    rework = _next(annotator, task).json()
    assert rework["id"] == unit_id  # rejected work comes back to its annotator first
    assert annotator.post(f"/api/v1/work-items/{unit_id}/submit/").json()["state"] == "in_review"
    again = _next(reviewer, task, stage="review").json()
    assert again["id"] == review["id"]
    approved = reviewer.post(f"/api/v1/work-items/{review['id']}/review/", {"decision": "approve"}, format="json")
    assert approved.status_code == 200
    assert WorkItem.objects.get(pk=unit_id).state == "approved"


def test_the_database_refuses_self_review_and_a_second_lease(make_task, team):
    from django.db import IntegrityError, transaction

    task = make_task(n_items=2)
    user = team["annotators"][0].user
    units = list(WorkItem.objects.filter(task=task))
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkItem.objects.create(organization=task.organization, task=task, item=units[0].item, stage="review",
                                assignee=user, annotator=user)
    WorkItem.objects.filter(pk=units[0].pk).update(state="leased", assignee=user,
                                                   lease_expires_at=timezone.now() + timedelta(minutes=5))
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkItem.objects.filter(pk=units[1].pk).update(state="leased", assignee=user,
                                                       lease_expires_at=timezone.now() + timedelta(minutes=5))


def test_a_paused_task_hands_out_nothing(make_task, team, owner_a, api_for):
    task = make_task(n_items=1)
    assert api_for(owner_a).patch(f"/api/v1/tasks/{task.pk}/", {"status": "paused"}, format="json").status_code == 200

    response = _next(api_for(team["annotators"][0]), task)

    assert response.status_code == 409


def test_heartbeats_credit_no_more_than_the_time_that_passed(make_task, team, api_for):
    task = make_task(n_items=1)
    client = api_for(team["annotators"][0])
    unit_id = _next(client, task).json()["id"]

    body = client.post(f"/api/v1/work-items/{unit_id}/heartbeat/", {"active_seconds": 100}, format="json").json()

    assert body["active_seconds"] < 5
    assert client.post(f"/api/v1/work-items/{unit_id}/heartbeat/", {"active_seconds": 1000},
                       format="json").status_code == 400


def test_people_outside_the_task_cannot_pull(make_task, org_a, make_member, api_for):
    from apps.tenancy.roles import Role

    task = make_task(n_items=1)

    assert _next(api_for(make_member(org_a, Role.ANNOTATOR)), task).status_code == 404


def test_the_periodic_sweep_queues_expiry_per_organisation(make_task, team, api_for, org_a):
    from apps.core.models import OutboxMessage
    from apps.core.periodic import JOBS, run_due
    from apps.workforce import tasks

    task = make_task(n_items=1)
    unit_id = _next(api_for(team["annotators"][0]), task).json()["id"]
    WorkItem.objects.filter(pk=unit_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    job = JOBS[f"{tasks.sweep_expired_leases.__module__}.sweep_expired_leases"]
    job.next_run = 0

    assert job.name in run_due()

    message = OutboxMessage.objects.get(actor_name="expire_work_leases")
    assert message.args == [org_a.pk]
