"""GET /tasks/{id}/quality/, the task's quality settings, and GET /quality/me/."""

import pytest

from apps.compliance.models import AuditEvent
from apps.quality.models import QualityThreshold
from apps.tenancy.roles import Role

from .samples import Samples

pytestmark = pytest.mark.django_db


def test_a_manager_sees_each_annotators_score_with_its_confidence(make_task, team, owner_a, api_for):
    task = make_task(n_items=2)
    user = team["annotators"][0].user
    Samples(task).gold(user, 0.5)

    body = api_for(owner_a).get(f"/api/v1/tasks/{task.pk}/quality/").json()

    rows = {r["email"]: r for r in body["results"]}
    assert len(rows) == 3
    assert (rows[user.email]["score"], rows[user.email]["samples"]) == (0.5, 1)
    assert rows[user.email]["low"] == pytest.approx(0.0546, abs=1e-4)
    assert rows[team["annotators"][1].user.email]["score"] is None
    assert body["window_units"] == 50


def test_an_annotator_cannot_read_the_task_scores(make_task, team, api_for):
    task = make_task(n_items=1)

    assert api_for(team["annotators"][0]).get(f"/api/v1/tasks/{task.pk}/quality/").status_code in (403, 404)


def test_own_quality_shows_the_callers_scores_only(make_task, team, api_for):
    task = make_task(n_items=2)
    me, other = team["annotators"][0].user, team["annotators"][1].user
    s = Samples(task)
    s.gold(me, 1.0)
    s.gold(other, 0.0)

    body = api_for(team["annotators"][0]).get("/api/v1/quality/me/").json()

    assert (body["overall"]["user_id"], body["overall"]["score"]) == (me.pk, 1.0)
    assert [(t["task_id"], t["score"]) for t in body["tasks"]] == [(task.pk, 1.0)]


def test_own_quality_never_shows_another_organisations_tasks(make_task, team, api_for, org_b, make_member):
    task = make_task(n_items=1)
    Samples(task).gold(team["annotators"][0].user, 1.0)
    stranger = make_member(org_b, Role.ANNOTATOR)

    body = api_for(stranger).get("/api/v1/quality/me/").json()

    assert body["tasks"] == [] and body["overall"]["samples"] == 0


def test_settings_set_thresholds_and_are_audited(make_task, owner_a, api_for):
    task = make_task(n_items=1)
    body = {"window_units": 20, "window_days": 7,
            "thresholds": [{"action": "warn", "min_score": 0.7, "min_samples": 5},
                           {"action": "pause", "min_score": 0.4}]}

    response = api_for(owner_a).put(f"/api/v1/tasks/{task.pk}/quality/settings/", body, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["thresholds"] == [{"action": "pause", "min_score": 0.4, "min_samples": 10},
                                             {"action": "warn", "min_score": 0.7, "min_samples": 5}]
    assert QualityThreshold.objects.filter(task=task).count() == 2
    assert AuditEvent.objects.filter(action="quality.policy_changed").count() == 1


@pytest.mark.parametrize("body,field", [
    ({"thresholds": [{"action": "requalify", "min_score": 0.5}]}, "thresholds.0.action"),
    ({"thresholds": [{"action": "warn", "min_score": 1.5}]}, "thresholds"),
    ({"window_units": 0}, "window_units"),
])
def test_bad_settings_answer_400_naming_the_field(body, field, make_task, owner_a, api_for):
    task = make_task(n_items=1)

    response = api_for(owner_a).put(f"/api/v1/tasks/{task.pk}/quality/settings/", body, format="json")

    assert response.status_code == 400
    assert any(key.startswith(field) for key in response.json()["errors"])
