"""A unit's holder reads the unit's item through the one item-content route of the API (the guard the workforce app
registers with the datasets app), and opens the unit through its detail; nobody else gets anything but 404."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from apps.annotations.services import annotations_change
from apps.compliance.models import AuditEvent
from apps.datasets.intake import items_upload
from apps.recipes.selectors import dataset_recipe_version
from apps.tenancy.roles import Role
from apps.workforce.models import WorkItem
from apps.workforce.services import task_create
from apps.workforce.unit_services import task_next, work_item_submit
from tests.datasets.factories import DatasetFactory
from tests.recipes.factories import published_recipe

pytestmark = pytest.mark.django_db


def png(name) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (70, 80, 90)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture(autouse=True)
def storage_roots(settings, tmp_path):
    settings.STORAGE_ROOTS = {"eu": tmp_path / "eu", "us": tmp_path / "us"}


@pytest.fixture
def people(org_a, make_member):
    return {"annotator": make_member(org_a, Role.ANNOTATOR), "other": make_member(org_a, Role.ANNOTATOR),
            "reviewer": make_member(org_a, Role.REVIEWER)}


@pytest.fixture
def task(org_a, owner_a, people):
    dataset = DatasetFactory(organization=org_a, name="Streets")
    published_recipe(org_a, owner_a.user, dataset=dataset)
    items_upload(org=org_a, actor=owner_a.user, dataset=dataset, files=[png("a.png"), png("b.png")])
    members = [{"user_id": people["annotator"].user_id, "role": "annotator"},
               {"user_id": people["other"].user_id, "role": "annotator"},
               {"user_id": people["reviewer"].user_id, "role": "reviewer"}]
    return task_create(org=org_a, actor=owner_a.user, dataset=dataset, name="Photos", members=members,
                       recipe_version=dataset_recipe_version(org=org_a, dataset=dataset), review_ratio=1)


def pull(membership, task, stage="annotate") -> WorkItem:
    unit, _resumed = task_next(org=task.organization, actor=membership.user, task=task, stage=stage)
    assert unit is not None
    return WorkItem.objects.get(pk=unit.pk)


def content(api_for, membership, item_id):
    return api_for(membership).get(f"/api/v1/items/{item_id}/content/")


def test_the_holder_of_a_unit_reads_its_item_and_the_read_is_audited(api_for, task, people):
    unit = pull(people["annotator"], task)

    response = content(api_for, people["annotator"], unit.item_id)

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    event = AuditEvent.objects.get(action="item.viewed", target_id=str(unit.item_id))
    assert event.actor_user_id == people["annotator"].user_id
    assert event.metadata["grant"] == f"work item {unit.pk}"


def test_an_annotator_without_a_unit_on_the_item_gets_404(api_for, task, people):
    unit = pull(people["annotator"], task)
    other_item = WorkItem.objects.exclude(item_id=unit.item_id).filter(task=task).first().item_id

    assert content(api_for, people["annotator"], other_item).status_code == 404
    assert content(api_for, people["other"], unit.item_id).status_code == 404
    assert not AuditEvent.objects.filter(action="item.viewed").exists()


def test_an_expired_lease_grants_nothing_even_before_the_sweep(api_for, task, people):
    unit = pull(people["annotator"], task)
    WorkItem.objects.filter(pk=unit.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    assert content(api_for, people["annotator"], unit.item_id).status_code == 404


def test_submitted_work_no_longer_opens_the_item_but_its_reviewer_reads_it(api_for, task, people, org_a):
    unit = pull(people["annotator"], task)
    work_item_submit(org=org_a, actor=people["annotator"].user, unit=unit, render=lambda u: {})

    assert content(api_for, people["annotator"], unit.item_id).status_code == 404
    assert content(api_for, people["reviewer"], unit.item_id).status_code == 404  # before pulling the review
    pull(people["reviewer"], task, stage="review")
    assert content(api_for, people["reviewer"], unit.item_id).status_code == 200


def test_another_tenant_gets_404_for_the_item_of_a_unit(api_for, task, people, org_b, make_member):
    unit = pull(people["annotator"], task)
    stranger = make_member(org_b, Role.OWNER)

    assert content(api_for, stranger, unit.item_id).status_code == 404


def test_the_units_detail_opens_it_with_its_item_layer_and_suggestions(api_for, task, people, org_a, owner_a):
    unit = pull(people["annotator"], task)
    annotations_change(org=org_a, actor=owner_a.user, item=unit.item, create=[
        {"type": "bbox", "label": "truck", "geometry": {"x": 1, "y": 1, "w": 5, "h": 5}, "source": "model",
         "review_state": "proposed", "confidence": 0.9},
        {"type": "bbox", "label": "truck", "geometry": {"x": 9, "y": 9, "w": 5, "h": 5}}])

    body = api_for(people["annotator"]).get(f"/api/v1/work-items/{unit.pk}/").json()

    assert body["layer"] == unit.pk and body["recipe_version"] == task.recipe_version_id
    item = body["item_detail"]
    assert item["content_url"] == f"/api/v1/items/{unit.item_id}/content/"
    assert item["annotations_url"] == f"/api/v1/items/{unit.item_id}/annotations/?layer={unit.pk}"
    assert (item["width"], item["height"]) == (64, 48)
    assert [(s["label"], s["review_state"], s["confidence"]) for s in body["suggestions"]] == [
        ("truck", "proposed", 0.9)]


def test_the_old_unit_views_are_gone(client, task, people):
    unit = pull(people["annotator"], task)
    client.force_login(people["annotator"].user)

    for path in ["open", "content"]:
        assert client.get(f"/o/{task.organization.slug}/tasks/{task.pk}/units/{unit.pk}/{path}/").status_code == 404
