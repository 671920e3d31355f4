"""GDPR data-subject requests: the lifecycle and its refusals, the access bundle, erasure that leaves nothing of the
subject behind in the database or storage, a signed certificate, and an audit trail that never names the subject."""

import base64
import io
import json

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.db import connection
from django.utils import timezone

from apps.annotations.models import Annotation, AnnotationRevision, ExportJob
from apps.annotations.services import annotations_change
from apps.compliance import gdpr, signing
from apps.compliance.models import AuditEvent, DataSubjectRequest
from apps.compliance.services import audit_record
from apps.core.models import OutboxMessage
from apps.datasets.models import Item
from apps.storage.models import Blob
from apps.storage.services import blob_put
from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe

SUBJECT = "P-4711"
OTHER = "P-0815"
MARKER = "gdpr-marker-7c1e"
CONTENT = b"\xff\xd8 raw scan bytes of the patient"


@pytest.fixture(autouse=True)
def region_roots(settings, tmp_path):
    roots = {"eu": tmp_path / "eu", "us": tmp_path / "us"}
    settings.STORAGE_ROOTS = roots
    return roots


@pytest.fixture
def clinic(org_a, owner_a):
    """A health dataset keyed by patient_id: two items of SUBJECT (one with a thumbnail), one of OTHER, one of
    nobody; each with content and annotations."""
    dataset = DatasetFactory(organization=org_a, name="Scans", classification="health", subject_key="patient_id")
    published_recipe(org_a, owner_a.user, dataset=dataset)

    def item(patient, name):
        metadata = {"patient_id": patient, "note": f"{MARKER} {patient}"} if patient else {"note": "none"}
        made = ItemFactory(dataset=dataset, name=name, metadata=metadata,
                           blob=blob_put(org=org_a, stream=io.BytesIO(CONTENT + name.encode()), mime="image/jpeg"))
        annotations_change(org=org_a, actor=owner_a.user, item=made, create=[
            {"type": "bbox", "label": "car", "geometry": {"x": 1, "y": 1, "w": 5, "h": 5},
             "attributes": {"colour": "red"}}])
        return made

    mine = [item(SUBJECT, "a.jpg"), item(SUBJECT, "b.jpg")]
    mine[1].thumbnail = blob_put(org=org_a, stream=io.BytesIO(b"thumb"), mime="image/jpeg")
    mine[1].save()
    return {"dataset": dataset, "mine": mine, "other": item(OTHER, "c.jpg"), "nobody": item(None, "d.jpg")}


def create(client, kind="access", subject=SUBJECT, **body):
    return client.post("/api/v1/gdpr-requests/", {"kind": kind, "subject_value": subject, **body}, format="json")


def run_to_done(client, request_id, capture=None):
    """Verifies and runs the request through the API, then does the worker's part (committing, with `capture`:
    the ciphertext of deleted blobs goes once the transaction commits)."""
    assert client.post(f"/api/v1/gdpr-requests/{request_id}/verify/", {"notes": "ID card seen"},
                       format="json").status_code == 200
    started = client.post(f"/api/v1/gdpr-requests/{request_id}/run/", {}, format="json")
    assert started.status_code == 202, started.content
    if capture is None:
        gdpr.gdpr_request_execute(request=DataSubjectRequest.objects.get(pk=request_id))
    else:
        with capture(execute=True):
            gdpr.gdpr_request_execute(request=DataSubjectRequest.objects.get(pk=request_id))
    return client.get(f"/api/v1/gdpr-requests/{request_id}/").json()


def download(client, request_id) -> bytes:
    response = client.get(f"/api/v1/gdpr-requests/{request_id}/download/")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- Lifecycle ------------------------------------------------------------------------------------------


def test_a_request_moves_from_received_to_done_with_every_step_audited(clinic, org_a, officer, api_for):
    client = api_for(officer)

    created = create(client)

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "received"
    assert (timezone.datetime.fromisoformat(body["due_at"]) - timezone.datetime.fromisoformat(
        body["received_at"])).days == 30
    done = run_to_done(client, body["id"])
    assert done["status"] == "done" and done["download_url"] == f"/api/v1/gdpr-requests/{body['id']}/download/"
    assert OutboxMessage.objects.filter(actor_name="run_gdpr_request").count() == 1
    actions = list(AuditEvent.objects.filter(organization=org_a, target_type="compliance.datasubjectrequest")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["gdpr.received", "gdpr.verified", "gdpr.started", "gdpr.completed"]


def test_running_an_unverified_request_is_a_conflict_and_changes_nothing(clinic, officer, api_for):
    client = api_for(officer)
    request_id = create(client).json()["id"]

    response = client.post(f"/api/v1/gdpr-requests/{request_id}/run/", {}, format="json")

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert DataSubjectRequest.objects.get(pk=request_id).status == "received"
    assert not OutboxMessage.objects.filter(actor_name="run_gdpr_request").exists()


def test_verifying_twice_and_rejecting_a_finished_request_are_conflicts(clinic, officer, api_for):
    client = api_for(officer)
    request_id = create(client).json()["id"]
    run_to_done(client, request_id)

    again = client.post(f"/api/v1/gdpr-requests/{request_id}/verify/", {}, format="json")
    reject = client.post(f"/api/v1/gdpr-requests/{request_id}/reject/", {"reason": "too late"}, format="json")

    assert (again.status_code, reject.status_code) == (409, 409)
    assert DataSubjectRequest.objects.get(pk=request_id).status == "done"


def test_a_rejected_request_cannot_run_and_a_rejection_needs_a_reason(clinic, officer, api_for):
    client = api_for(officer)
    request_id = create(client).json()["id"]

    no_reason = client.post(f"/api/v1/gdpr-requests/{request_id}/reject/", {"reason": ""}, format="json")
    rejected = client.post(f"/api/v1/gdpr-requests/{request_id}/reject/", {"reason": "Identity not proven"},
                           format="json")
    run = client.post(f"/api/v1/gdpr-requests/{request_id}/run/", {}, format="json")

    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert run.status_code == 409


@pytest.mark.parametrize("body,field", [
    ({"kind": "forget", "subject_value": SUBJECT}, "kind"),
    ({"kind": "access", "subject_value": "   "}, "subject_value"),
    ({"kind": "access", "subject_value": "x" * 201}, "subject_value"),
    ({"kind": "access", "subject_value": SUBJECT, "received_at": "2999-01-01T00:00:00Z"}, "received_at"),
])
def test_bad_input_is_a_400_naming_the_field(body, field, officer, api_for):
    response = api_for(officer).post("/api/v1/gdpr-requests/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not DataSubjectRequest.objects.exists()


def test_a_manager_cannot_see_or_make_requests(org_a, make_member, api_for):
    client = api_for(make_member(org_a, Role.MANAGER))

    assert client.get("/api/v1/gdpr-requests/").status_code == 403
    assert create(client).status_code == 403


def test_another_tenants_request_answers_404_and_does_not_run(clinic, org_b, owner_b, officer, api_for):
    foreign = gdpr.gdpr_request_create(org=org_b, actor=owner_b.user, kind="erasure", subject_value=SUBJECT)
    client = api_for(officer)

    detail = client.get(f"/api/v1/gdpr-requests/{foreign.pk}/")
    verify = client.post(f"/api/v1/gdpr-requests/{foreign.pk}/verify/", {}, format="json")

    assert (detail.status_code, verify.status_code) == (404, 404)
    assert DataSubjectRequest.objects.get(pk=foreign.pk).status == "received"


# --- Access ---------------------------------------------------------------------------------------------


def test_the_access_bundle_holds_the_subjects_items_annotations_and_audit_events_but_no_content(
        clinic, org_a, owner_a, officer, api_for):
    viewed = audit_record(org=org_a, actor=owner_a.user, action="item.viewed", target=clinic["mine"][0],
                          metadata={"dataset_id": clinic["dataset"].pk})
    audit_record(org=org_a, actor=owner_a.user, action="item.viewed", target=clinic["other"])
    client = api_for(officer)
    request_id = create(client).json()["id"]
    done = run_to_done(client, request_id)

    raw = download(client, request_id)

    bundle = json.loads(raw)
    assert {i["id"] for i in bundle["items"]} == {i.pk for i in clinic["mine"]}
    assert all(i["metadata"]["patient_id"] == SUBJECT for i in bundle["items"])
    assert [len(i["annotations"]) for i in bundle["items"]] == [1, 1]
    assert bundle["items"][0]["annotations"][0]["label"] == "car"
    assert viewed.pk in {e["id"] for e in bundle["audit_events"]}
    assert {e["target_id"] for e in bundle["audit_events"]} == {str(i.pk) for i in clinic["mine"]}
    assert bundle["content_included"] is False and "does not hold the items' content" in bundle["note"]
    assert CONTENT not in raw
    assert done["result"]["counts"] == {"items": 2, "annotations": 2, "audit_events": len(bundle["audit_events"])}
    assert AuditEvent.objects.filter(organization=org_a, action="gdpr.downloaded", actor_user=officer.user).exists()


def test_the_bundle_cannot_be_downloaded_before_the_request_is_done(clinic, officer, api_for):
    client = api_for(officer)
    request_id = create(client).json()["id"]

    response = client.get(f"/api/v1/gdpr-requests/{request_id}/download/")

    assert response.status_code == 409


def test_a_numeric_subject_id_in_metadata_is_found_by_its_text(org_a, owner_a, officer, api_for):
    dataset = DatasetFactory(organization=org_a, subject_key="patient_id")
    item = ItemFactory(dataset=dataset, metadata={"patient_id": 4711})
    client = api_for(officer)
    request_id = create(client, subject="4711").json()["id"]
    run_to_done(client, request_id)

    bundle = json.loads(download(client, request_id))

    assert [i["id"] for i in bundle["items"]] == [item.pk]


# --- Erasure --------------------------------------------------------------------------------------------


def _rows_with_marker(table: str, column: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE %s', [f"%{MARKER} {SUBJECT}%"])
        return cursor.fetchone()[0]


def test_erasure_leaves_no_row_or_stored_object_of_the_subject_and_spares_others(
        clinic, officer, api_for, region_roots, django_capture_on_commit_callbacks):
    mine = clinic["mine"]
    mine_ids = [i.pk for i in mine]
    blobs = [mine[0].blob, mine[1].blob, mine[1].thumbnail]
    files = [region_roots[b.region] / b.key for b in blobs]
    other = clinic["other"]
    other_file = region_roots[other.blob.region] / other.blob.key
    assert all(f.exists() for f in files)
    client = api_for(officer)
    request_id = create(client, kind="erasure").json()["id"]

    done = run_to_done(client, request_id, capture=django_capture_on_commit_callbacks)

    assert done["result"]["counts"] == {"items": 2, "annotations": 2, "annotation_revisions": 2, "blobs": 3}
    assert not Item.objects.filter(pk__in=mine_ids).exists()
    assert not Annotation.objects.filter(item_id__in=mine_ids).exists()
    assert not AnnotationRevision.objects.filter(item_id__in=mine_ids).exists()
    assert not Blob.objects.filter(pk__in=[b.pk for b in blobs]).exists()
    assert not any(f.exists() for f in files)
    assert _rows_with_marker("datasets_item", "metadata") == 0
    assert Item.objects.filter(pk__in=[other.pk, clinic["nobody"].pk]).count() == 2
    assert Annotation.objects.filter(item=other).count() == 1
    assert other_file.exists()


def test_erasure_certificate_is_signed_names_only_the_pseudonym_and_the_request_forgets_the_value(
        clinic, org_a, officer, api_for):
    client = api_for(officer)
    request_id = create(client, kind="erasure").json()["id"]
    done = run_to_done(client, request_id)

    document = json.loads(download(client, request_id))

    certificate = document["certificate"]
    signed = json.dumps(certificate, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    load_pem_public_key(signing.public_key_pem()).verify(base64.b64decode(document["signature_ed25519"]), signed)
    assert certificate["request"] == request_id
    assert certificate["subject_pseudonym"] == gdpr.subject_pseudonym(org=org_a, value=SUBJECT)
    assert certificate["counts"]["items"] == 2
    assert SUBJECT not in json.dumps(document)
    assert done["subject_value"] == "" and DataSubjectRequest.objects.get(pk=request_id).subject_value == ""


def test_the_audit_trail_never_holds_the_raw_subject_value(clinic, org_a, officer, api_for):
    client = api_for(officer)
    access_id = create(client).json()["id"]
    run_to_done(client, access_id)
    download(client, access_id)
    erasure_id = create(client, kind="erasure").json()["id"]
    run_to_done(client, erasure_id)
    download(client, erasure_id)

    events = AuditEvent.objects.filter(organization=org_a, action__startswith="gdpr.")
    dumped = json.dumps([[e.target_label, e.before, e.after, e.metadata] for e in events])

    assert events.count() == 10
    assert SUBJECT not in dumped
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM compliance_auditevent e WHERE row_to_json(e)::text LIKE %s",
                       [f"%{SUBJECT}%"])
        assert cursor.fetchone()[0] == 0


def test_the_pseudonym_differs_between_organisations_for_the_same_value(org_a, org_b):
    assert gdpr.subject_pseudonym(org=org_a, value=SUBJECT) != gdpr.subject_pseudonym(org=org_b, value=SUBJECT)
    assert gdpr.subject_pseudonym(org=org_a, value=SUBJECT) == gdpr.subject_pseudonym(org=org_a, value=SUBJECT)


def test_erasure_lists_the_finished_exports_that_hold_the_subjects_items(clinic, org_a, owner_a, officer, api_for):
    holding = ExportJob.objects.create(organization=org_a, dataset=clinic["dataset"], format="coco", status="done",
                                       filter={}, finished_at=timezone.now(), created_by=owner_a.user)
    ExportJob.objects.create(organization=org_a, dataset=clinic["dataset"], format="coco", status="done",
                             filter={"metadata.patient_id": OTHER}, finished_at=timezone.now())
    client = api_for(officer)
    request_id = create(client, kind="erasure").json()["id"]

    done = run_to_done(client, request_id)

    assert [e["id"] for e in done["result"]["exports"]] == [holding.pk]


def test_a_redelivered_run_changes_nothing_twice(clinic, officer, api_for):
    client = api_for(officer)
    request_id = create(client, kind="erasure").json()["id"]
    first = run_to_done(client, request_id)

    again = gdpr.gdpr_request_execute(request=DataSubjectRequest.objects.get(pk=request_id))

    assert again.result == DataSubjectRequest.objects.get(pk=request_id).result
    assert first["result"]["counts"]["items"] == 2


# --- The dataset's subject key --------------------------------------------------------------------------


def test_the_subject_key_is_set_through_the_dataset_api_and_checked(org_a, owner_a, api_for):
    dataset = DatasetFactory(organization=org_a)
    client = api_for(owner_a)

    ok = client.patch(f"/api/v1/datasets/{dataset.pk}/", {"subject_key": "patient_id"}, format="json")
    bad = client.patch(f"/api/v1/datasets/{dataset.pk}/", {"subject_key": "a.b; drop"}, format="json")

    assert ok.status_code == 200 and ok.json()["subject_key"] == "patient_id"
    assert bad.status_code == 400 and "subject_key" in bad.json()["errors"]
    dataset.refresh_from_db()
    assert dataset.subject_key == "patient_id"


def test_erasure_lists_the_dataset_versions_whose_manifest_holds_the_subjects_items(clinic, org_a, owner_a, officer,
                                                                                    api_for):
    from apps.datasets import version_services
    from apps.datasets.tasks import build_dataset_version

    def make_version(message, filter):
        version = version_services.dataset_version_create(org=org_a, actor=owner_a.user, dataset=clinic["dataset"],
                                                          message=message, filter=filter)
        build_dataset_version(org_a.pk, version.pk)
        version.refresh_from_db()
        assert version.status == "ready", version.error
        return version

    holding = make_version("All", {})
    make_version("Only the other patient", {"metadata.patient_id": OTHER})
    client = api_for(officer)
    request_id = create(client, kind="erasure").json()["id"]

    done = run_to_done(client, request_id)

    assert [(v["id"], v["number"]) for v in done["result"]["dataset_versions"]] == [(holding.pk, 1)]
