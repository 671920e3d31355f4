"""Every transition a unit refuses, with the answer a client gets and nothing changed."""

import pytest

from apps.workforce.models import WorkEvent, WorkItem

pytestmark = pytest.mark.django_db

ACTIONS = {
    "submit": ("submit/", {}),
    "skip": ("skip/", {"reason": "Blurry"}),
    "heartbeat": ("heartbeat/", {"active_seconds": 5}),
    "approve": ("review/", {"decision": "approve"}),
}
# (state the unit is put in, action) -> the status a client gets
ILLEGAL = [
    ("queued", "submit", 409), ("queued", "skip", 409), ("queued", "heartbeat", 409),
    ("done", "submit", 409), ("done", "skip", 409), ("in_review", "submit", 409), ("approved", "submit", 409),
    ("rejected", "submit", 409), ("cancelled", "submit", 409), ("leased", "approve", 400),
]


@pytest.mark.parametrize("state,action,status", ILLEGAL, ids=[f"{s}-{a}" for s, a, _ in ILLEGAL])
def test_illegal_transitions_are_refused_and_change_nothing(state, action, status, make_task, team, api_for):
    task = make_task(n_items=1)
    person = team["annotators"][0]
    client = api_for(person)
    unit_id = client.post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").json()["id"]
    if state != "leased":
        WorkItem.objects.filter(pk=unit_id).update(state=state, lease_expires_at=None)
    before = (WorkItem.objects.get(pk=unit_id).state, WorkEvent.objects.filter(work_item_id=unit_id).count())
    path, body = ACTIONS[action]

    response = client.post(f"/api/v1/work-items/{unit_id}/{path}", body, format="json")

    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert (WorkItem.objects.get(pk=unit_id).state, WorkEvent.objects.filter(work_item_id=unit_id).count()) == before
