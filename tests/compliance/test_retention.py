"""Retention purge, legal hold (which stops the purge and GDPR erasure), and the residency report."""

import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.annotations.models import Annotation
from apps.annotations.services import annotations_change
from apps.compliance.models import AuditEvent, DataSubjectRequest
from apps.core.models import OutboxMessage
from apps.datasets import tasks
from apps.datasets.models import Dataset, Item
from apps.datasets.retention import retention_purge
from apps.storage.models import Blob
from apps.storage.services import blob_put
from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe


@pytest.fixture(autouse=True)
def region_roots(settings, tmp_path):
    settings.STORAGE_ROOTS = {"eu": tmp_path / "eu", "us": tmp_path / "us"}


@pytest.fixture
def kept_30_days(org_a, owner_a):
    """A dataset keeping items 30 days: one 40 days old (with content, thumbnail and an annotation), one 2 days old."""
    dataset = DatasetFactory(organization=org_a, name="Dashcam", retention_days=30, subject_key="patient_id")
    published_recipe(org_a, owner_a.user, dataset=dataset)
    now = timezone.now()

    def item(name, age_days):
        made = ItemFactory(dataset=dataset, name=name, created_at=now - timedelta(days=age_days),
                           metadata={"patient_id": "P-1"},
                           blob=blob_put(org=org_a, stream=io.BytesIO(name.encode()), mime="image/jpeg"),
                           thumbnail=blob_put(org=org_a, stream=io.BytesIO(b"t" + name.encode()), mime="image/jpeg"))
        annotations_change(org=org_a, actor=owner_a.user, item=made, create=[
            {"type": "bbox", "label": "car", "geometry": {"x": 1, "y": 1, "w": 5, "h": 5},
             "attributes": {"colour": "red"}}])
        return made

    return {"dataset": dataset, "old": item("old.jpg", 40), "young": item("young.jpg", 2)}


def test_the_purge_deletes_expired_items_with_their_annotations_and_blobs_and_audits_it(kept_30_days, org_a):
    old, young = kept_30_days["old"], kept_30_days["young"]
    old_blobs = [old.blob_id, old.thumbnail_id]

    purged = retention_purge(org_id=org_a.pk)

    assert purged == {kept_30_days["dataset"].pk: 1}
    assert not Item.objects.filter(pk=old.pk).exists()
    assert not Annotation.objects.filter(item_id=old.pk).exists()
    assert not Blob.objects.filter(pk__in=old_blobs).exists()
    assert Item.objects.filter(pk=young.pk).exists()
    assert Annotation.objects.filter(item_id=young.pk).count() == 1
    event = AuditEvent.objects.get(organization=org_a, action="retention.purged")
    assert event.metadata["dataset_id"] == kept_30_days["dataset"].pk
    assert event.metadata["counts"] == {"items": 1, "annotations": 1, "annotation_revisions": 1, "blobs": 2}


def test_a_second_purge_deletes_nothing_more_and_audits_nothing_more(kept_30_days, org_a):
    retention_purge(org_id=org_a.pk)

    again = retention_purge(org_id=org_a.pk)

    assert again == {}
    assert AuditEvent.objects.filter(organization=org_a, action="retention.purged").count() == 1
    assert Item.objects.filter(dataset=kept_30_days["dataset"]).count() == 1


def test_a_dataset_on_legal_hold_is_not_purged(kept_30_days, org_a, owner_a, api_for):
    dataset = kept_30_days["dataset"]
    placed = api_for(owner_a).patch(f"/api/v1/datasets/{dataset.pk}/",
                                    {"legal_hold": True, "legal_hold_reason": "Case 2026-17"}, format="json")

    purged = retention_purge(org_id=org_a.pk)

    assert placed.status_code == 200, placed.content
    assert placed.json()["legal_hold"] is True
    assert purged == {}
    assert Item.objects.filter(pk=kept_30_days["old"].pk).exists()
    assert AuditEvent.objects.filter(organization=org_a, action="dataset.legal_hold_placed",
                                     target_id=str(dataset.pk)).exists()


def test_placing_a_hold_without_a_reason_is_refused_naming_the_field(kept_30_days, owner_a, api_for):
    dataset = kept_30_days["dataset"]

    response = api_for(owner_a).patch(f"/api/v1/datasets/{dataset.pk}/", {"legal_hold": True}, format="json")

    assert response.status_code == 400
    assert "legal_hold_reason" in response.json()["errors"]
    assert Dataset.objects.get(pk=dataset.pk).legal_hold is False


def test_an_annotator_cannot_place_a_hold(kept_30_days, org_a, make_member, api_for):
    dataset = kept_30_days["dataset"]
    annotator = make_member(org_a, Role.ANNOTATOR)

    response = api_for(annotator).patch(f"/api/v1/datasets/{dataset.pk}/",
                                        {"legal_hold": True, "legal_hold_reason": "x"}, format="json")

    assert response.status_code in (403, 404)
    assert Dataset.objects.get(pk=dataset.pk).legal_hold is False


def test_the_daily_job_queues_one_purge_per_organisation(org_a, org_b):
    tasks.purge_expired_items_daily()

    queued = OutboxMessage.objects.filter(actor_name="purge_expired_items")
    assert sorted(m.args[0] for m in queued) == sorted([org_a.pk, org_b.pk])


def test_gdpr_erasure_of_items_in_a_held_dataset_is_refused_with_409_naming_the_hold(kept_30_days, officer, api_for):
    dataset = kept_30_days["dataset"]
    dataset.legal_hold, dataset.legal_hold_reason = True, "Case 2026-17"
    dataset.save()
    client = api_for(officer)
    request_id = client.post("/api/v1/gdpr-requests/", {"kind": "erasure", "subject_value": "P-1"},
                             format="json").json()["id"]
    client.post(f"/api/v1/gdpr-requests/{request_id}/verify/", {"notes": "ID seen"}, format="json")

    response = client.post(f"/api/v1/gdpr-requests/{request_id}/run/", {}, format="json")

    assert response.status_code == 409
    assert "legal hold" in response.content.decode().lower()
    assert "Case 2026-17" in response.content.decode()
    assert DataSubjectRequest.objects.get(pk=request_id).status == "verified"
    assert Item.objects.filter(dataset=dataset).count() == 2


# --- Residency ----------------------------------------------------------------------------------------


def test_the_residency_page_says_where_each_kind_of_data_lives(org_a, officer):
    client = Client()
    client.force_login(officer.user)

    response = client.get(f"/o/{org_a.slug}/compliance/residency/")

    page = response.content.decode()
    assert response.status_code == 200
    for words in ("Item bytes and thumbnails", "primary PostgreSQL", "default.eu", "gpu.eu", "Exports",
                  "Dataset versions", "Audit trail", "No violation"):
        assert words in page


def test_an_annotator_cannot_open_the_residency_page(org_a, make_member):
    client = Client()
    client.force_login(make_member(org_a, Role.ANNOTATOR).user)

    response = client.get(f"/o/{org_a.slug}/compliance/residency/")

    assert response.status_code in (403, 404)


def test_a_blob_outside_the_organisations_region_shows_as_a_violation(org_a, officer, api_for):
    blob_put(org=org_a, stream=io.BytesIO(b"in region"), mime="text/plain")
    planted = blob_put(org=org_a, stream=io.BytesIO(b"planted"), mime="text/plain")
    Blob.objects.filter(pk=planted.pk).update(region="us")
    client = Client()
    client.force_login(officer.user)

    page = client.get(f"/o/{org_a.slug}/compliance/residency/").content.decode()
    body = api_for(officer).get("/api/v1/residency/").json()

    assert f"Blob {planted.pk}" in page and "Residency violations" in page
    assert body["violation_count"] == 1
    assert [v["blob_id"] for v in body["violations"]] == [planted.pk]
    assert body["blobs_by_region"] == {"eu": 1, "us": 1}


def test_the_residency_report_counts_only_the_callers_blobs(org_a, officer, org_b, api_for):
    foreign = blob_put(org=org_b, stream=io.BytesIO(b"globex"), mime="text/plain")
    Blob.objects.filter(pk=foreign.pk).update(region="us")

    body = api_for(officer).get("/api/v1/residency/").json()

    assert body["organization"] == org_a.name
    assert body["violation_count"] == 0
    assert body["blobs_by_region"] == {}
