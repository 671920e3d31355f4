"""Thresholds act once per breach (warn, pause, requalify), each audited and sent live on the "tasks" topic."""

import pytest

from apps.compliance.models import AuditEvent
from apps.quality.models import QualityAction, QualityThreshold
from apps.quality.services import evaluate_thresholds
from apps.workforce.models import Qualification, TaskMember

from .samples import Samples

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    events = []
    monkeypatch.setattr("apps.core.events.send_now", lambda group, event, data: events.append((group, event, data)))
    return events


def _threshold(task, action, min_score=0.6, min_samples=2):
    return QualityThreshold.objects.create(organization_id=task.organization_id, task=task, action=action,
                                           min_score=min_score, min_samples=min_samples)


@pytest.mark.parametrize("action,audit", [("warn", "quality.warned"), ("pause", "quality.member_paused")])
def test_a_breach_acts_once_with_audit_and_live_event(action, audit, make_task, team, org_a, sent,
                                                      django_capture_on_commit_callbacks):
    task = make_task(n_items=4)
    _threshold(task, action)
    user = team["annotators"][0].user
    s = Samples(task)
    s.review(user, False, hours_ago=3)
    s.review(user, False, hours_ago=2)

    with django_capture_on_commit_callbacks(execute=True):
        first = evaluate_thresholds(task=task, user_ids=[user.pk])
        s.review(user, False, hours_ago=1)  # still below: the same breach
        second = evaluate_thresholds(task=task, user_ids=[user.pk])

    assert [a.action for a in first] == [action] and second == []
    event = AuditEvent.objects.get(action=audit)
    assert (event.metadata["user_id"], event.metadata["score"], event.metadata["samples"]) == (user.pk, 0.0, 2)
    assert (f"org.{org_a.pk}.tasks", f"quality.{action}") in {(g, e) for g, e, _ in sent}
    member = TaskMember.objects.get(task=task, user=user, role="annotator")
    assert member.status == ("paused" if action == "pause" else "active")


def test_too_few_samples_do_not_act(make_task, team):
    task = make_task(n_items=2)
    _threshold(task, "warn", min_samples=3)
    user = team["annotators"][0].user
    Samples(task).review(user, False)

    assert evaluate_thresholds(task=task, user_ids=[user.pk]) == []
    assert not AuditEvent.objects.filter(action="quality.warned").exists()


def test_recovery_closes_the_breach_and_a_new_fall_acts_again(make_task, team):
    task = make_task(n_items=8)
    _threshold(task, "warn", min_score=0.5, min_samples=1)
    user = team["annotators"][0].user
    s = Samples(task)
    s.review(user, False, hours_ago=5)
    evaluate_thresholds(task=task, user_ids=[user.pk])
    s.review(user, True, hours_ago=4)
    s.review(user, True, hours_ago=3)  # 2/3 >= 0.5: recovered
    evaluate_thresholds(task=task, user_ids=[user.pk])
    for hours in (2, 1):
        s.review(user, False, hours_ago=hours)  # 2/5 < 0.5: a new breach

    evaluate_thresholds(task=task, user_ids=[user.pk])

    assert AuditEvent.objects.filter(action="quality.warned").count() == 2
    assert QualityAction.objects.filter(user=user, resolved_at__isnull=True).count() == 1


def test_requalify_revokes_the_required_qualification(make_task, team, sent, django_capture_on_commit_callbacks):
    training = make_task(n_items=1, is_training=True)
    task = make_task(n_items=3)
    task.qualification = training
    task.save(update_fields=["qualification"])
    user = team["annotators"][0].user
    Qualification.objects.create(organization_id=task.organization_id, training_task=training, user=user,
                                 score=0.9, passed=True)
    _threshold(task, "requalify", min_samples=1)
    Samples(task).gold(user, 0.2)

    with django_capture_on_commit_callbacks(execute=True):
        evaluate_thresholds(task=task, user_ids=[user.pk])
        evaluate_thresholds(task=task, user_ids=[user.pk])

    assert Qualification.objects.get(training_task=training, user=user).passed is False
    assert AuditEvent.objects.filter(action="quality.requalification_required").count() == 1
    assert [e for _, e, _ in sent].count("quality.requalify") == 1


def test_a_rejection_in_review_is_evaluated_at_once(make_task, team, api_for):
    task = make_task(n_items=1, review_ratio=1.0)
    _threshold(task, "pause", min_score=0.5, min_samples=1)
    annotator, reviewer = api_for(team["annotators"][0]), api_for(team["reviewer"])
    unit = annotator.post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").json()
    annotator.post(f"/api/v1/work-items/{unit['id']}/submit/")
    review = reviewer.post(f"/api/v1/tasks/{task.pk}/next/", {"stage": "review"}, format="json").json()

    reviewer.post(f"/api/v1/work-items/{review['id']}/review/",
                  {"decision": "reject", "comments": [{"text": "Wrong label"}]}, format="json")

    assert TaskMember.objects.get(task=task, user=team["annotators"][0].user, role="annotator").status == "paused"
    assert annotator.post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").status_code == 404  # paused: not hers
