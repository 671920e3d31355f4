"""Erasure made complete (GDPR art. 17): the subject's content is under their own key and erasure destroys it
(crypto-shredding, so a copy of the ciphertext taken before stays unreadable), exports and dataset versions that
held the subject are withdrawn (files deleted, old links answer 410), a legal hold placed after the request was
started fails it with the reason, and a marker planted in the subject's data is found nowhere afterwards."""

import io
import json
import zipfile

import pytest
import redis
from django.conf import settings
from django.db import connection
from PIL import Image

from apps.annotations import exports
from apps.annotations.models import ExportJob
from apps.annotations.services import annotations_change
from apps.compliance import gdpr
from apps.compliance.models import AuditEvent, DataSubjectRequest
from apps.compliance.subject_keys import items_bind_subject_keys
from apps.datasets import version_services
from apps.datasets.intake import item_thumbnail_make
from apps.datasets.models import Item
from apps.datasets.services import item_update
from apps.datasets.tasks import build_dataset_version
from apps.storage.errors import KeyUnavailable
from apps.storage.models import Blob, SubjectKey
from apps.storage.services import blob_open, blob_put, blob_read_bytes, org_key_rotate
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe

SUBJECT = "P-4711"
OTHER = "P-0815"
MARKER = "zq-erase-marker-93f1"


@pytest.fixture(autouse=True)
def region_roots(settings, tmp_path):
    roots = {"eu": tmp_path / "eu", "us": tmp_path / "us"}
    settings.STORAGE_ROOTS = roots
    return roots


def jpeg(colour="red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def clinic(org_a, owner_a):
    """A health dataset keyed by patient_id. SUBJECT's item carries MARKER in its file name, its metadata and an
    annotation's text attribute; OTHER's item does not. Both items' blobs are bound to their subjects' keys."""
    dataset = DatasetFactory(organization=org_a, name="Scans", classification="health", subject_key="patient_id")
    published_recipe(org_a, owner_a.user, dataset=dataset)

    def item(patient, name, note):
        made = ItemFactory(dataset=dataset, name=name, kind="image", mime="image/jpeg",
                           metadata={"patient_id": patient, "note": note},
                           blob=blob_put(org=org_a, stream=io.BytesIO(jpeg()), mime="image/jpeg"))
        annotations_change(org=org_a, actor=owner_a.user, item=made, create=[
            {"type": "bbox", "label": "car", "geometry": {"x": 1, "y": 1, "w": 5, "h": 5},
             "attributes": {"colour": "red", "plate": note}}])
        return made

    mine = item(SUBJECT, f"scan-{MARKER}.jpg", f"seen by {MARKER}")
    other = item(OTHER, "other.jpg", "nothing to see")
    items_bind_subject_keys(org=org_a, dataset_id=dataset.pk)
    item_thumbnail_make(item=Item.objects.get(pk=mine.pk))
    return {"dataset": dataset, "mine": Item.objects.get(pk=mine.pk), "other": Item.objects.get(pk=other.pk)}


def erase(client, capture=None, subject=SUBJECT, kind="erasure") -> dict:
    request_id = client.post("/api/v1/gdpr-requests/", {"kind": kind, "subject_value": subject},
                             format="json").json()["id"]
    assert client.post(f"/api/v1/gdpr-requests/{request_id}/verify/", {}, format="json").status_code == 200
    started = client.post(f"/api/v1/gdpr-requests/{request_id}/run/", {}, format="json")
    assert started.status_code == 202, started.content
    if capture is None:
        gdpr.gdpr_request_execute(request=DataSubjectRequest.objects.get(pk=request_id))
    else:
        with capture(execute=True):
            gdpr.gdpr_request_execute(request=DataSubjectRequest.objects.get(pk=request_id))
    return client.get(f"/api/v1/gdpr-requests/{request_id}/").json()


def pseudonym(org, value=SUBJECT) -> str:
    return gdpr.subject_pseudonym(org=org, value=value)


# --- Per-subject keys ---------------------------------------------------------------------------------


def test_the_subjects_content_and_thumbnail_are_wrapped_by_their_own_key(clinic, org_a):
    mine, other = clinic["mine"], clinic["other"]

    key = SubjectKey.objects.get(organization=org_a, pseudonym=pseudonym(org_a))

    assert mine.blob.subject_key_id == key.pk and mine.thumbnail.subject_key_id == key.pk
    assert other.blob.subject_key.pseudonym == pseudonym(org_a, OTHER)
    assert blob_read_bytes(mine.blob) == jpeg()
    assert blob_read_bytes(mine.thumbnail)[:2] == b"\xff\xd8"


def test_editing_the_subject_in_the_metadata_moves_the_blob_to_the_new_subjects_key(clinic, org_a, owner_a):
    item = clinic["other"]

    item_update(org=org_a, actor=owner_a.user, item=item, metadata_patch={"patient_id": "P-9999"})
    moved = Blob.objects.get(pk=item.blob_id)
    item_update(org=org_a, actor=owner_a.user, item=item, metadata_patch={"patient_id": None})
    unbound = Blob.objects.get(pk=item.blob_id)

    assert moved.subject_key.pseudonym == pseudonym(org_a, "P-9999")
    assert unbound.subject_key_id is None
    assert blob_read_bytes(unbound) == jpeg()


def test_content_fetched_for_a_manifest_row_that_names_a_subject_is_stored_under_their_key(
        clinic, org_a, owner_a, api_for, region_roots):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.datasets.models import ImportJob
    from apps.datasets.tasks import fetch_import_items, run_import_job

    intake = region_roots["eu"] / "intake" / str(org_a.pk) / "scans"
    intake.mkdir(parents=True)
    (intake / "new.jpg").write_bytes(jpeg("blue"))
    manifest = json.dumps({"key": "scans/new.jpg", "metadata": {"patient_id": "P-5555"}}).encode()
    started = api_for(owner_a).post(f"/api/v1/datasets/{clinic['dataset'].pk}/imports/",
                                    {"file": SimpleUploadedFile("rows.jsonl", manifest)}, format="multipart")
    job = ImportJob.objects.get(pk=started.json()["id"])

    run_import_job.fn(org_a.pk, job.pk)
    fetch_import_items.fn(org_a.pk, job.pk)

    item = Item.objects.get(dataset=clinic["dataset"], name="new.jpg")
    assert item.status == "ready" and item.blob.subject_key.pseudonym == pseudonym(org_a, "P-5555")
    assert blob_read_bytes(item.blob) == jpeg("blue")


def test_a_bulk_metadata_edit_of_the_subject_rebinds_the_blobs_in_the_background(clinic, org_a, owner_a):
    from apps.compliance.tasks import bind_dataset_subject_keys
    from apps.core.models import OutboxMessage
    from apps.datasets.services import items_bulk_update

    items = Item.objects.filter(pk=clinic["other"].pk)
    items_bulk_update(org=org_a, actor=owner_a.user, dataset=clinic["dataset"], items=items,
                      set_metadata={"patient_id": "P-7777"})
    assert OutboxMessage.objects.filter(actor_name="bind_dataset_subject_keys").count() == 1

    bind_dataset_subject_keys.fn(org_a.pk, clinic["dataset"].pk)

    assert Blob.objects.get(pk=clinic["other"].blob_id).subject_key.pseudonym == pseudonym(org_a, "P-7777")


def test_a_new_subject_key_on_the_dataset_rebinds_every_items_blobs(clinic, org_a, owner_a):
    from apps.compliance.tasks import bind_dataset_subject_keys
    from apps.datasets.services import dataset_update

    dataset_update(org=org_a, actor=owner_a.user, dataset=clinic["dataset"], subject_key="")
    bind_dataset_subject_keys.fn(org_a.pk, clinic["dataset"].pk)
    unbound = [Blob.objects.get(pk=i.blob_id).subject_key_id for i in (clinic["mine"], clinic["other"])]
    dataset_update(org=org_a, actor=owner_a.user, dataset=clinic["dataset"], subject_key="patient_id")
    bind_dataset_subject_keys.fn(org_a.pk, clinic["dataset"].pk)

    assert unbound == [None, None]
    assert Blob.objects.get(pk=clinic["mine"].blob_id).subject_key.pseudonym == pseudonym(org_a)


def test_rotating_the_organisation_key_keeps_subject_content_readable(clinic, org_a):
    rotation = org_key_rotate(org=org_a, actor=None)

    key = SubjectKey.objects.get(organization=org_a, pseudonym=pseudonym(org_a))
    assert key.org_key_version == rotation.version == 2
    assert Blob.objects.get(pk=clinic["mine"].blob_id).org_key_version == 2
    assert blob_read_bytes(Blob.objects.get(pk=clinic["mine"].blob_id)) == jpeg()


def test_a_ciphertext_copied_aside_before_erasure_cannot_be_decrypted_afterwards(
        clinic, org_a, officer, api_for, region_roots, django_capture_on_commit_callbacks):
    blob = clinic["mine"].blob
    path = region_roots[blob.region] / blob.key
    backup_bytes = path.read_bytes()  # the bucket's backup
    backup_row = {f.attname: getattr(blob, f.attname) for f in Blob._meta.concrete_fields if f.attname != "id"}

    done = erase(api_for(officer), capture=django_capture_on_commit_callbacks)

    assert done["status"] == "done" and done["result"]["subject_keys_destroyed"] == 1
    assert not path.exists()
    key = SubjectKey.objects.get(organization=org_a, pseudonym=pseudonym(org_a))
    assert key.destroyed_at is not None and bytes(key.wrapped_key) == b""
    # Both restored from backups: the ciphertext and the row with its wrapped data key.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(backup_bytes)
    restored = Blob.objects.create(**backup_row)
    with pytest.raises(KeyUnavailable, match="destroyed"):
        blob_open(restored)
    assert blob_read_bytes(clinic["other"].blob) == jpeg()  # another subject's content is untouched


# --- Withdrawn exports and versions -------------------------------------------------------------------


def make_export(client, dataset) -> int:
    started = client.post(f"/api/v1/datasets/{dataset.pk}/exports/", {"format": "coco"}, format="json")
    assert started.status_code == 202, started.content
    exports.export_run(job=ExportJob.objects.get(pk=started.json()["id"]))
    return started.json()["id"]


def make_version(org, owner, dataset):
    version = version_services.dataset_version_create(org=org, actor=owner.user, dataset=dataset, message="All")
    build_dataset_version(org.pk, version.pk)
    version.refresh_from_db()
    assert version.status == "ready", version.error
    return version


def test_exports_and_versions_that_held_the_subject_are_withdrawn_and_their_links_answer_410(
        clinic, org_a, owner_a, officer, api_for, region_roots, django_capture_on_commit_callbacks):
    owner = api_for(owner_a)
    export_id = make_export(owner, clinic["dataset"])
    export_file = region_roots["eu"] / ExportJob.objects.get(pk=export_id).result.key
    version = make_version(org_a, owner_a, clinic["dataset"])
    version_files = [region_roots["eu"] / Blob.objects.get(pk=s["blob"]).key for s in version.sections.values()]
    item_id = clinic["mine"].pk
    assert owner.get(f"/api/v1/exports/{export_id}/download/").status_code == 200
    assert export_file.exists() and all(f.exists() for f in version_files)

    done = erase(api_for(officer), capture=django_capture_on_commit_callbacks)

    document = json.loads(api_for(officer).get(f"/api/v1/gdpr-requests/{done['id']}/download/").content)
    body = document["certificate"]
    assert body["withdrawn"]["exports"] == [export_id] and body["withdrawn"]["dataset_versions"] == [version.pk]
    assert body["exports"][0]["status"] == "withdrawn" and body["dataset_versions"][0]["status"] == "withdrawn"
    assert not any("withdrawn or rebuilt" in gap for gap in body["not_erased"])
    gone = owner.get(f"/api/v1/exports/{export_id}/download/")
    assert gone.status_code == 410 and "withdrawn" in gone.json()["detail"]
    detail = owner.get(f"/api/v1/exports/{export_id}/").json()
    assert detail["withdrawn_at"] and detail["download_url"] is None
    for url in (f"/api/v1/dataset-versions/{version.pk}/download/",
                f"/api/v1/dataset-versions/{version.pk}/download/?section=items"):
        response = owner.get(url)
        assert response.status_code == 410 and "withdrawn" in response.json()["detail"], url
    assert owner.get(f"/api/v1/dataset-versions/{version.pk}/").json()["status"] == "withdrawn"
    assert owner.get(f"/api/v1/items/{item_id}/content/").status_code == 404
    assert owner.get(f"/api/v1/items/{item_id}/thumbnail/").status_code == 404
    assert not export_file.exists() and not any(f.exists() for f in version_files)
    withdrawn = ExportJob.objects.get(pk=export_id)
    assert withdrawn.withdrawn_by_request_id == done["id"] and withdrawn.result_id is None
    assert set(AuditEvent.objects.filter(organization=org_a, action__endswith=".withdrawn").values_list(
        "action", flat=True)) == {"export.withdrawn", "dataset_version.withdrawn"}


# --- Legal hold at execution time ---------------------------------------------------------------------


def test_a_legal_hold_placed_after_the_start_fails_the_request_with_the_reason(clinic, org_a, officer, api_for):
    client = api_for(officer)
    request_id = client.post("/api/v1/gdpr-requests/", {"kind": "erasure", "subject_value": SUBJECT},
                             format="json").json()["id"]
    client.post(f"/api/v1/gdpr-requests/{request_id}/verify/", {}, format="json")
    assert client.post(f"/api/v1/gdpr-requests/{request_id}/run/", {}, format="json").status_code == 202
    clinic["dataset"].legal_hold, clinic["dataset"].legal_hold_reason = True, "Case 17-B"
    clinic["dataset"].save()

    after = gdpr.gdpr_request_execute(request=DataSubjectRequest.objects.get(pk=request_id))

    assert after.status == "failed" and "Case 17-B" in after.error
    assert client.get(f"/api/v1/gdpr-requests/{request_id}/").json()["status"] == "failed"
    assert Item.objects.filter(pk=clinic["mine"].pk).exists()
    assert blob_read_bytes(clinic["mine"].blob) == jpeg()
    failed = AuditEvent.objects.get(organization=org_a, action="gdpr.failed", target_id=str(request_id))
    assert "Case 17-B" in failed.metadata["reason"]


def test_an_erasure_refused_by_a_legal_hold_is_audited(clinic, org_a, officer, api_for):
    clinic["dataset"].legal_hold, clinic["dataset"].legal_hold_reason = True, "Case 17-B"
    clinic["dataset"].save()
    client = api_for(officer)
    request_id = client.post("/api/v1/gdpr-requests/", {"kind": "erasure", "subject_value": SUBJECT},
                             format="json").json()["id"]
    client.post(f"/api/v1/gdpr-requests/{request_id}/verify/", {}, format="json")

    refused = client.post(f"/api/v1/gdpr-requests/{request_id}/run/", {}, format="json")

    assert refused.status_code == 409 and "Case 17-B" in refused.json()["detail"]
    assert DataSubjectRequest.objects.get(pk=request_id).status == "verified"
    event = AuditEvent.objects.get(organization=org_a, action="gdpr.refused", target_id=str(request_id))
    assert "Case 17-B" in event.metadata["reason"] and SUBJECT not in json.dumps(event.metadata)


# --- Nothing of the subject is left -------------------------------------------------------------------


def tables_holding(text: str) -> dict[str, int]:
    """Every table of the public schema whose rows, as JSON, hold `text`: {table: rows}."""
    found = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT count(*) FROM "{table}" t WHERE row_to_json(t)::text LIKE %s', [f"%{text}%"])
            if count := cursor.fetchone()[0]:
                found[table] = count
    return found


def redis_holding(text: str) -> list[str]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    found = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        values = {"string": lambda k: [client.get(k)], "list": lambda k: client.lrange(k, 0, -1),
                  "set": client.smembers, "zset": lambda k: client.zrange(k, 0, -1),
                  "hash": lambda k: list(client.hgetall(k).items())}.get(kind, lambda k: [])(key)
        if text.encode() in key or any(text.encode() in repr(v).encode() for v in values):
            found.append(key.decode(errors="replace"))
    return found


def readable_text(blob) -> bytes:
    """A blob's plaintext as searchable bytes: zip members inflated, Parquet tables decoded, else the bytes."""
    data = blob_read_bytes(blob)
    if data[:2] == b"PK":
        archive = zipfile.ZipFile(io.BytesIO(data))
        return b"".join(readable_bytes(archive.read(name)) for name in archive.namelist())
    return readable_bytes(data)


def readable_bytes(data: bytes) -> bytes:
    if data[:4] == b"PAR1":
        import pyarrow.parquet as pq

        return json.dumps(pq.read_table(io.BytesIO(data)).to_pylist(), default=str).encode()
    return data


def blobs_holding(org, text: str) -> list[int]:
    return [b.pk for b in Blob.objects.filter(organization=org) if text.encode() in readable_text(b)]


def test_after_erasure_the_marker_is_nowhere(clinic, org_a, owner_a, officer, api_for, region_roots,
                                             django_capture_on_commit_callbacks):
    owner, client = api_for(owner_a), api_for(officer)
    old_export = make_export(owner, clinic["dataset"])
    make_version(org_a, owner_a, clinic["dataset"])
    access = erase(client, kind="access")
    assert MARKER in client.get(f"/api/v1/gdpr-requests/{access['id']}/download/").getvalue().decode()
    from django.core.cache import cache
    cache.set(f"probe-{MARKER}", "x")  # the test's own probe proves the Redis scan sees the cache
    assert redis_holding(MARKER)
    cache.delete(f"probe-{MARKER}")
    before = tables_holding(MARKER)
    assert "datasets_item" in before and "annotations_annotation" in before
    # The export zip, the version's Parquet files and the access bundle hold it: the search below would see it.
    assert len(blobs_holding(org_a, MARKER)) >= 3

    done = erase(client, capture=django_capture_on_commit_callbacks)

    assert done["status"] == "done"
    # The database: no table holds it, except audit events about the erased items written before the erasure
    # (append-only, declared under the certificate's not_erased).
    left = tables_holding(MARKER)
    audit_rows = AuditEvent.objects.filter(organization=org_a).extra(
        where=["row_to_json(compliance_auditevent)::text LIKE %s"], params=[f"%{MARKER}%"])
    assert set(left) <= {"compliance_auditevent"}, left
    assert {(e.target_type, e.target_id) for e in audit_rows} <= {("datasets.item", str(clinic["mine"].pk))}
    # Storage: every remaining blob decrypts without the marker; every file left is a blob's.
    blobs = list(Blob.objects.filter(organization=org_a))
    assert blobs and blobs_holding(org_a, MARKER) == []
    stored = {str(p.relative_to(region_roots["eu"])) for p in region_roots["eu"].rglob("*") if p.is_file()}
    assert stored <= {b.key for b in blobs}
    # Redis (cache, channel layer, broker).
    assert redis_holding(MARKER) == []
    # A new export of the dataset.
    fresh = make_export(owner, clinic["dataset"])
    zipped = zipfile.ZipFile(io.BytesIO(b"".join(owner.get(f"/api/v1/exports/{fresh}/download/").streaming_content)))
    assert not any(MARKER.encode() in zipped.read(name) for name in zipped.namelist())
    coco = json.loads(zipped.read("annotations/instances_default.json"))
    assert [image["file_name"] for image in coco["images"]] == ["other.jpg"]
    # Old links.
    assert owner.get(f"/api/v1/exports/{old_export}/download/").status_code == 410
    assert client.get(f"/api/v1/gdpr-requests/{access['id']}/download/").status_code == 410
    assert owner.get(f"/api/v1/items/{clinic['mine'].pk}/content/").status_code == 404
