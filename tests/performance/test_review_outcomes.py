"""Review outcomes with their reasons, and a reviewer's own scorecard.

Hand fixture: a task whose recipe names the rejection reasons "Loose box", "Wrong label" and "Missed object";
annotators A and B, reviewer R. Review rounds (R decides each):
  u1 (A): round 1 rejected on D1 with comments "Loose box on the left" and "wrong LABEL too";
          round 2 rejected on D1 with "loose box, still" (case is ignored).
  u2 (A): round 1 rejected on D1 with "Please redo it" (names no reason: Other); round 2 approved with
          "Loose box fixed" (an approval: not counted).
  u3 (B): round 1 rejected on D2 with "Missed object <b>x</b>".
By hand: A {Loose box: 2, Other: 1, Wrong label: 1}; B {Missed object: 1}; the task and R: the sum of both.
"""

import pytest
from django.test import Client

from apps.workforce.models import ReviewComment, ReviewRound, WorkItem
from tests.recipes.factories import street_spec

from .factories import D1, D2, at, make_task

pytestmark = pytest.mark.django_db

REASONS = ["Loose box", "Wrong label", "Missed object"]
A_REASONS = {"Loose box": 2, "Other": 1, "Wrong label": 1}
B_REASONS = {"Missed object": 1}
ALL_REASONS = {"Loose box": 2, "Missed object": 1, "Other": 1, "Wrong label": 1}


@pytest.fixture
def reviewed_task(org_a, owner_a, people):
    spec = street_spec()
    spec["review"] = {"required": True, "sample_ratio": 1.0, "reject_reasons": REASONS}
    task = make_task(org_a, owner_a, people, name="Reviewed scenes", n_items=3, spec=spec)
    a, b, r = people["A"].user, people["B"].user, people["R"].user
    u1, u2, u3 = WorkItem.objects.filter(task=task).order_by("id")
    for unit, who in ((u1, a), (u2, a), (u3, b)):
        WorkItem.objects.filter(pk=unit.pk).update(assignee=who, state=WorkItem.State.SUBMITTED)

    def review(unit, number, decision, day, *texts):
        round_ = ReviewRound.objects.create(organization=org_a, work_item=unit, number=number, reviewer=r,
                                            decision=decision, decided_at=at(day, f"1{number}:00"))
        for text in texts:
            ReviewComment.objects.create(organization=org_a, work_item=unit, round=round_, author=r, text=text)

    rejected, approved = ReviewRound.Decision.REJECTED, ReviewRound.Decision.APPROVED
    review(u1, 1, rejected, D1, "Loose box on the left", "wrong LABEL too")
    review(u1, 2, rejected, D1, "loose box, still")
    review(u2, 1, rejected, D1, "Please redo it")
    review(u2, 2, approved, D1, "Loose box fixed")
    review(u3, 1, rejected, D2, "Missed object <b>x</b>")
    return task


def test_the_team_report_breaks_rejections_down_by_reason_per_annotator(reviewed_task, people, owner_a, api_for):
    body = api_for(owner_a).get(f"/api/v1/tasks/{reviewed_task.pk}/performance/?group=annotator").json()

    reasons = body["rejection_reasons"]
    assert reasons == {str(people["A"].user_id): A_REASONS, str(people["B"].user_id): B_REASONS}
    assert list(reasons[str(people["A"].user_id)]) == ["Loose box", "Other", "Wrong label"]  # most frequent first


def test_the_breakdown_per_task_and_per_reviewer_and_within_dates(reviewed_task, people, owner_a, api_for):
    client = api_for(owner_a)
    url = f"/api/v1/tasks/{reviewed_task.pk}/performance/"

    assert client.get(f"{url}?group=task").json()["rejection_reasons"] == {str(reviewed_task.pk): ALL_REASONS}
    assert client.get(f"{url}?group=reviewer").json()["rejection_reasons"] == {
        str(people["R"].user_id): ALL_REASONS}
    assert client.get(f"{url}?group=annotator&to={D1}").json()["rejection_reasons"] == {
        str(people["A"].user_id): A_REASONS}
    assert client.get(f"{url}?group=day").json()["rejection_reasons"] == {
        D1: A_REASONS, D2: B_REASONS}


def test_an_annotator_sees_only_the_reasons_of_their_own_work(reviewed_task, people, api_for):
    mine = api_for(people["B"]).get("/api/v1/performance/me/?group=task").json()["rejection_reasons"]

    assert mine == {str(reviewed_task.pk): B_REASONS}


def test_the_dashboard_lists_the_reasons_per_annotator_escaped(reviewed_task, people, owner_a):
    client = Client()
    client.force_login(owner_a.user)

    page = client.get(f"/o/acme/tasks/{reviewed_task.pk}/performance/").content.decode()

    assert 'id="reasons-table"' in page
    assert ('<tr><th scope="row">Ann Able</th><td>Loose box</td><td data-stat="rejections">2</td></tr>' in page)
    assert ('<tr><th scope="row">Ben Bell</th><td>Missed object</td><td data-stat="rejections">1</td></tr>'
            in page)
    assert "<b>x</b>" not in page


def test_a_dashboard_without_rejections_says_so(org_a, owner_a, people):
    task = make_task(org_a, owner_a, people, name="Calm", n_items=1)
    client = Client()
    client.force_login(owner_a.user)

    page = client.get(f"/o/acme/tasks/{task.pk}/performance/").content.decode()

    assert "No work on this task was rejected." in page and 'id="reasons-table"' not in page


def test_a_reviewers_scorecard_shows_the_review_stage(reviewed_task, people):
    reviewer, annotator = Client(), Client()
    reviewer.force_login(people["R"].user)
    annotator.force_login(people["A"].user)

    review_page = reviewer.get("/o/acme/performance/me/").content.decode()
    annotate_page = annotator.get("/o/acme/performance/me/").content.decode()

    assert "Reviewing, by task" in review_page and 'id="own-review-table"' in review_page
    assert '"reviews": true' in review_page
    assert "Reviewing, by task" not in annotate_page and '"reviews": false' in annotate_page


def test_the_reviewers_own_card_in_the_review_stage_counts_their_decisions(reviewed_task, people, api_for):
    body = api_for(people["R"]).get("/api/v1/performance/me/?group=task&stage=review").json()

    assert body["stage"] == "review"
    assert [row["id"] for row in body["results"]] == [reviewed_task.pk]
    assert body["rejection_reasons"] == {str(reviewed_task.pk): ALL_REASONS}
