"""The workforce's consensus and gold flows use the quality metrics and merge strategies."""

import pytest

from apps.annotations.models import Annotation, AnnotationRevision
from apps.compliance.models import AuditEvent
from apps.workforce.models import ConsensusResult, GoldScore, WorkItem

pytestmark = pytest.mark.django_db


def box(x, label="truck", w=100):
    return {"type": "bbox", "label": label, "geometry": {"x": x, "y": 10, "w": w, "h": 50}}


def _pull_and_draw(client, task, *shapes):
    unit = client.post(f"/api/v1/tasks/{task.pk}/next/", {}, format="json").json()
    response = client.post(f"/api/v1/items/{unit['item']}/annotations/changes/",
                           {"layer": unit["layer"], "create": list(shapes)}, format="json")
    assert response.status_code == 200, response.content
    return unit


def test_agreeing_consensus_becomes_the_fused_boxes_of_the_majority(make_task, team, api_for):
    task = make_task(n_items=1, consensus=3)
    task.consensus_threshold = 0.75
    task.save(update_fields=["consensus_threshold"])
    clients = [api_for(m) for m in team["annotators"]]
    units = [_pull_and_draw(clients[0], task, box(10), box(300, w=40)),
             _pull_and_draw(clients[1], task, box(14)),
             _pull_and_draw(clients[2], task, box(12))]

    for client, unit in zip(clients, units, strict=True):
        client.post(f"/api/v1/work-items/{unit['id']}/submit/")

    result = ConsensusResult.objects.get(task=task)
    assert result.outcome == "merged" and result.score == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    shared = list(Annotation.objects.filter(item_id=units[0]["item"], layer__isnull=True))
    assert [(a.label, a.geometry) for a in shared] == [("truck", {"x": 12.0, "y": 10.0, "w": 100.0, "h": 50.0})]
    assert AnnotationRevision.objects.filter(annotation_id=shared[0].pk, action="created").exists()
    assert AuditEvent.objects.filter(action="annotations.merged").count() == 1


def test_gold_details_show_where_the_work_differed(make_task, team, api_for, owner_a):
    task = make_task(n_items=1, is_training=True, pass_threshold=0.5)
    owner = api_for(owner_a)
    item_id = WorkItem.objects.get(task=task).item_id
    owner.post(f"/api/v1/items/{item_id}/annotations/", box(10), format="json")
    owner.post(f"/api/v1/tasks/{task.pk}/gold/", {"item_id": item_id}, format="json")
    client = api_for(team["annotators"][0])
    unit = _pull_and_draw(client, task, box(12), box(300, w=40))

    feedback = client.post(f"/api/v1/work-items/{unit['id']}/submit/").json()["feedback"]

    bbox = feedback["details"]["types"]["bbox"]
    assert feedback["score"] == pytest.approx(2 / 3)
    assert (bbox["precision"], bbox["recall"], len(bbox["unmatched_a"])) == (0.5, 1.0, 1)
    assert GoldScore.objects.get(work_item_id=unit["id"]).details["types"]["bbox"]["matched"] == 1
