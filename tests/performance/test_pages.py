"""The dashboard and scorecard pages as the server renders them (their figures come from the JSON API)."""

import pytest
from django.test import Client

from apps.workforce.models import ReviewComment, WorkItem

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"


def signed_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def test_the_task_board_links_to_the_dashboard(worked_task, owner_a):
    board = signed_in(owner_a).get(f"/o/acme/tasks/{worked_task.pk}/").content.decode()

    assert f'href="/o/acme/tasks/{worked_task.pk}/performance/"' in board


def test_the_dashboard_shows_progress_charts_and_the_report_it_reads(worked_task, owner_a):
    page = signed_in(owner_a).get(f"/o/acme/tasks/{worked_task.pk}/performance/").content.decode()

    assert "Performance of Street scenes" in page
    assert 'id="burndown-chart"' in page and 'id="scatter-chart"' in page and 'id="team-table"' in page
    assert f"/api/v1/tasks/{worked_task.pk}/performance/" in page
    assert "vendor/chart-4.6.1.umd.min.js" in page


def test_annotators_and_other_tenants_get_no_dashboard(worked_task, people, owner_b):
    assert signed_in(people["A"]).get(f"/o/acme/tasks/{worked_task.pk}/performance/").status_code in (403, 404)
    assert signed_in(owner_b).get(f"/o/globex/tasks/{worked_task.pk}/performance/").status_code == 404


def test_the_scorecard_shows_recent_feedback_escaped(worked_task, people, org_a):
    rejected = WorkItem.objects.get(task=worked_task, stage="annotate", assignee=people["B"].user,
                                    events__kind="rejected")
    ReviewComment.objects.create(organization=org_a, work_item=rejected, author=people["R"].user,
                                 text=f"Box too loose {HOSTILE}")

    page = signed_in(people["B"]).get("/o/acme/performance/me/").content.decode()

    assert "My scorecard" in page
    assert rejected.item.name in page
    assert "Box too loose &lt;script&gt;" in page
    assert HOSTILE not in page
    assert "/api/v1/performance/me/" in page


def test_my_work_links_to_the_scorecard(people):
    assert 'href="/o/acme/performance/me/"' in signed_in(people["A"]).get("/o/acme/work/").content.decode()
