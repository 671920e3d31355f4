"""The pull path made cheap: the common lease is one statement, the rest still follows the rules, and a submit waits
on nobody's lock but the unit's own."""

import threading
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from apps.workforce.distribution import pull_next
from apps.workforce.models import WorkEvent, WorkItem
from apps.workforce.services import task_member_add


def _next(client, task, stage="annotate"):
    return client.post(f"/api/v1/tasks/{task.pk}/next/", {"stage": stage}, format="json")


@pytest.mark.django_db
def test_a_lease_is_one_statement_that_logs_who_took_the_unit(make_task, team, django_assert_max_num_queries):
    task = make_task(n_items=3)
    user = team["annotators"][0].user
    before = timezone.now()

    with django_assert_max_num_queries(3):  # the statement, and the savepoint a test's transaction needs around it
        unit, resumed = pull_next(task=task, user=user, stage=WorkItem.Stage.ANNOTATE)

    stored = WorkItem.objects.get(pk=unit.pk)
    assert not resumed and unit.item.name == stored.item.name
    assert (stored.state, stored.assignee_id, stored.attempts, stored.version) == ("leased", user.pk, 1, 2)
    assert stored.lease_expires_at - stored.leased_at == timedelta(seconds=task.lease_seconds)
    assert stored.leased_at >= before
    event = WorkEvent.objects.get(work_item=stored)
    assert (event.kind, event.actor_id, event.task_id, event.organization_id) == (
        "leased", user.pk, task.pk, task.organization_id)


@pytest.mark.django_db
def test_units_are_served_by_priority_then_due_date_then_age(make_task, team):
    task = make_task(n_items=4)
    first, _second, third, fourth = WorkItem.objects.filter(task=task).order_by("id")
    WorkItem.objects.filter(pk=fourth.pk).update(priority=5)
    WorkItem.objects.filter(pk=third.pk).update(due_at=timezone.now() + timedelta(days=1))
    people = [m.user for m in team["annotators"]]

    served = [pull_next(task=task, user=person, stage=WorkItem.Stage.ANNOTATE)[0].pk for person in people]

    assert served == [fourth.pk, third.pk, first.pk]


@pytest.mark.django_db
def test_an_expired_lease_of_the_caller_is_given_back_before_the_next_is_served(make_task, team, api_for):
    task = make_task(n_items=2)
    client = api_for(team["annotators"][0])
    stale = _next(client, task).json()["id"]
    WorkItem.objects.filter(pk=stale).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    fresh = _next(client, task)

    assert fresh.status_code == 200 and fresh["X-Resumed"] == "false"
    assert WorkEvent.objects.filter(work_item_id=stale, kind="expired").count() == 1
    assert WorkItem.objects.filter(task=task, assignee=team["annotators"][0].user, state="leased").count() == 1


@pytest.mark.django_db
def test_a_reviewer_is_never_served_their_own_work(make_task, team, owner_a, api_for, org_a):
    task = make_task(n_items=1, review_ratio=1.0)
    both = team["annotators"][0]
    task_member_add(org=org_a, actor=owner_a.user, task=task, user_id=both.user_id, role="reviewer")
    client = api_for(both)
    unit_id = _next(client, task).json()["id"]
    assert client.post(f"/api/v1/work-items/{unit_id}/submit/").json()["state"] == "in_review"

    assert _next(client, task, stage="review").status_code == 204
    assert _next(api_for(team["reviewer"]), task, stage="review").json()["stage"] == "review"


@pytest.mark.django_db
def test_in_push_mode_nobody_is_served_a_unit_pushed_to_someone_else(make_task, team, api_for):
    task = make_task(n_items=2, distribution="push")
    pushed = WorkItem.objects.filter(task=task, assignee__isnull=False)
    holders = {unit.assignee_id for unit in pushed}
    outsider = next(m for m in team["annotators"] if m.user_id not in holders)

    assert pushed.count() == 2
    assert _next(api_for(outsider), task).status_code == 204


@pytest.mark.django_db(transaction=True)
def test_a_submit_does_not_wait_for_a_lock_on_the_task_row(make_task, team, api_for):
    # A manager pausing the task holds its row until they commit (here: never): submits go on meanwhile.
    task = make_task(n_items=2)
    client = api_for(team["annotators"][0])
    unit_id = _next(client, task).json()["id"]
    locked, release = threading.Event(), threading.Event()
    params = connection.get_connection_params()

    def hold_task_row() -> None:
        with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}) as other:
            other.execute("SELECT set_config('app.rls_bypass', 'on', false)")
            other.execute("UPDATE workforce_task SET status = 'paused' WHERE id = %s", [task.pk])
            locked.set()
            release.wait(10)
            other.rollback()

    holder = threading.Thread(target=hold_task_row)
    holder.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        response = client.post(f"/api/v1/work-items/{unit_id}/submit/")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
        release.set()
        holder.join()

    assert response.status_code == 200 and response.json()["state"] == "done"
