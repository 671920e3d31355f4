"""Regenerating a dataset version withdrawn by a GDPR erasure: a new version of what the withdrawn one held minus the
erased data, its annotations as the withdrawn one captured them, naming the version it replaces; through the
service, the API and the versions page."""

import io
import json
import zipfile
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from django.db import DatabaseError, transaction
from django.test import Client

from apps.annotations.services import annotations_change
from apps.compliance import gdpr
from apps.compliance.models import AuditEvent, DataSubjectRequest
from apps.core.errors import ConflictError
from apps.datasets import version_membership, version_regeneration, version_services, versions
from apps.datasets.models import DatasetVersion, Item
from apps.datasets.services import item_update
from apps.datasets.tasks import build_dataset_version
from apps.storage.models import Blob
from apps.storage.services import blob_open, blob_read_bytes
from apps.tenancy.roles import Role
from tests.recipes.factories import published_recipe

from .factories import DatasetFactory, ItemFactory

SUBJECT = "P-4711"
MARKER = "zq-regen-marker-5c2e"


def box(label="car", x=10, note="fine"):
    return {"type": "bbox", "label": label, "geometry": {"x": x, "y": 20, "w": 100, "h": 50},
            "attributes": {"colour": "red", "plate": note} if label == "car" else {}}


@pytest.fixture
def clinic(org_a, owner_a):
    """A dataset keyed by patient_id: SUBJECT's item carries MARKER in its name, metadata and an annotation;
    two other patients' items do not. Each item has one car box."""
    dataset = DatasetFactory(organization=org_a, name="Scans", classification="health", subject_key="patient_id")
    published_recipe(org_a, owner_a.user, dataset=dataset)

    def item(patient, name, note, n):
        made = ItemFactory(dataset=dataset, name=name, metadata={"patient_id": patient, "note": note})
        made_box = annotations_change(org=org_a, actor=owner_a.user, item=made,
                                      create=[box(x=10 + n, note=note)]).created[0]
        return made, made_box

    (mine, mine_box), (kept, kept_box), (other, other_box) = (
        item(SUBJECT, f"scan-{MARKER}.jpg", f"seen by {MARKER}", 0), item("P-0815", "kept.jpg", "nothing", 1),
        item("P-0999", "other.jpg", "nothing", 2))
    return SimpleNamespace(dataset=dataset, mine=mine, kept=kept, other=other, mine_box=mine_box, kept_box=kept_box,
                           other_box=other_box)


@pytest.fixture
def officer(org_a, make_member):
    return make_member(org_a, Role.COMPLIANCE_OFFICER)


def make_version(org, actor, dataset, message="All", filter=None) -> DatasetVersion:
    version = version_services.dataset_version_create(org=org, actor=actor, dataset=dataset, message=message,
                                                      filter=filter)
    build_dataset_version(org.pk, version.pk)
    version.refresh_from_db()
    assert version.status == DatasetVersion.Status.READY, version.error
    return version


def erase(client, subject=SUBJECT) -> dict:
    """A real GDPR erasure: filed, verified and run by the compliance officer, executed as the worker would."""
    request_id = client.post("/api/v1/gdpr-requests/", {"kind": "erasure", "subject_value": subject},
                             format="json").json()["id"]
    assert client.post(f"/api/v1/gdpr-requests/{request_id}/verify/", {}, format="json").status_code == 200
    assert client.post(f"/api/v1/gdpr-requests/{request_id}/run/", {}, format="json").status_code == 202
    gdpr.gdpr_request_execute(request=DataSubjectRequest.objects.get(pk=request_id))
    return client.get(f"/api/v1/gdpr-requests/{request_id}/").json()


def regenerate(org, actor, version) -> DatasetVersion:
    regenerated = version_regeneration.dataset_version_regenerate(org=org, actor=actor, version=version)
    build_dataset_version(org.pk, regenerated.pk)
    regenerated.refresh_from_db()
    return regenerated


def table(version, section) -> list[dict]:
    with blob_open(Blob.objects.get(pk=version.sections[section]["blob"])) as reader:
        return pq.read_table(reader).to_pylist()


@pytest.fixture
def withdrawn(clinic, org_a, owner_a, officer, api_for):
    """Version 1 of the clinic, then SUBJECT erased (version 1 withdrawn)."""
    version = make_version(org_a, owner_a.user, clinic.dataset)
    assert erase(api_for(officer))["status"] == "done"
    version.refresh_from_db()
    assert version.status == DatasetVersion.Status.WITHDRAWN
    return version


class TestService:
    def test_the_regenerated_version_holds_what_the_withdrawn_one_held_minus_the_erased_item(
            self, clinic, org_a, owner_a, withdrawn):
        ItemFactory(dataset=clinic.dataset, name="later.jpg")  # made after version 1: not part of it

        regenerated = regenerate(org_a, owner_a.user, withdrawn)

        assert regenerated.status == DatasetVersion.Status.READY, regenerated.error
        assert (regenerated.number, regenerated.regenerated_from_id) == (2, withdrawn.pk)
        assert regenerated.filter == withdrawn.filter
        assert regenerated.message == "Regenerated from version 1: All"
        assert [row["name"] for row in table(regenerated, "items")] == ["kept.jpg", "other.jpg"]
        assert [row["id"] for row in table(regenerated, "annotations")] == [clinic.kept_box.pk, clinic.other_box.pk]
        assert (regenerated.item_count, regenerated.annotation_count) == (2, 2)
        assert set(regenerated.sections) == {"items", "annotations", "recipe_versions"}

    def test_the_kept_membership_not_the_filter_decides_which_items_it_holds(self, clinic, org_a, owner_a, officer,
                                                                              api_for):
        version = make_version(org_a, owner_a.user, clinic.dataset, filter={"folder": "/"})
        erase(api_for(officer))
        version.refresh_from_db()
        item_update(org=org_a, actor=owner_a.user, item=clinic.kept, folder="/moved")  # no longer matches

        regenerated = regenerate(org_a, owner_a.user, version)

        assert regenerated.filter == {"folder": "/"}
        assert [(row["name"], row["folder"]) for row in table(regenerated, "items")] == [
            ("kept.jpg", "/moved"), ("other.jpg", "/")]

    def test_annotations_are_as_the_withdrawn_version_captured_them_and_the_notes_say_so(
            self, clinic, org_a, owner_a, withdrawn):
        kept_box = clinic.kept_box
        annotations_change(org=org_a, actor=owner_a.user, item=clinic.kept, update=[
            {"id": kept_box.pk, "version": kept_box.version, "label": "truck", "attributes": {}}])
        annotations_change(org=org_a, actor=owner_a.user, item=clinic.other,
                           delete=[{"id": clinic.other_box.pk, "version": clinic.other_box.version}],
                           create=[box(x=99)])

        regenerated = regenerate(org_a, owner_a.user, withdrawn)

        rows = table(regenerated, "annotations")
        assert [(row["id"], row["label"], row["version"]) for row in rows] == [
            (kept_box.pk, "car", 1), (clinic.other_box.pk, "car", 1)]
        assert json.loads(rows[0]["attributes"]) == kept_box.attributes
        assert kept_box.attributes["plate"] == "nothing"
        assert json.loads(rows[1]["geometry"]) == {"x": 12, "y": 20, "w": 100, "h": 50}
        assert "Annotations: as version 1 captured them, restored from their revision history." in regenerated.notes
        assert "2 annotations restored as captured." in regenerated.notes
        assert "names, folders and metadata as they are now" in regenerated.notes

    def test_item_rows_are_as_they_are_now_and_items_deleted_since_are_left_out(
            self, clinic, org_a, owner_a, withdrawn):
        item_update(org=org_a, actor=owner_a.user, item=clinic.kept, metadata_patch={"note": "relabelled"})
        Item.objects.filter(pk=clinic.other.pk).delete()

        regenerated = regenerate(org_a, owner_a.user, withdrawn)

        items = table(regenerated, "items")
        assert [row["id"] for row in items] == [clinic.kept.pk]
        assert json.loads(items[0]["metadata"])["note"] == "relabelled"
        assert [row["id"] for row in table(regenerated, "annotations")] == [clinic.kept_box.pk]

    def test_the_withdrawal_keeps_ids_and_annotation_versions_only_without_the_erased_item(
            self, clinic, withdrawn):
        kept = withdrawn.withdrawn_membership

        files = {name: pq.read_table(io.BytesIO(blob_read_bytes(Blob.objects.get(pk=entry["blob"]))))
                 for name, entry in kept.items()}

        assert set(kept) == {"items", "annotations"}
        assert files["items"].column("key").to_pylist() == [clinic.kept.pk, clinic.other.pk]
        assert files["annotations"].to_pylist() == [
            {"key": clinic.kept_box.pk, "item_id": clinic.kept.pk, "pin": 1},
            {"key": clinic.other_box.pk, "item_id": clinic.other.pk, "pin": 1}]
        event = AuditEvent.objects.get(action="dataset_version.withdrawn", target_id=str(withdrawn.pk))
        assert event.metadata["membership_kept"] == {"items": 2, "annotations": 2}

    def test_the_kept_membership_is_deleted_once_the_regeneration_is_built(self, org_a, owner_a, withdrawn):
        blob_ids = [entry["blob"] for entry in withdrawn.withdrawn_membership.values()]

        regenerate(org_a, owner_a.user, withdrawn)

        assert not Blob.objects.filter(pk__in=blob_ids).exists()

    def test_it_streams_in_batches_of_one_and_gives_the_same_version(self, clinic, org_a, owner_a, withdrawn,
                                                                    monkeypatch):
        monkeypatch.setattr(versions, "ITEM_BATCH", 1)
        monkeypatch.setattr(versions, "ROW_GROUP_ROWS", 1)
        monkeypatch.setattr(version_membership, "READ_BATCH", 1)

        regenerated = regenerate(org_a, owner_a.user, withdrawn)

        assert [row["item_id"] for row in table(regenerated, "annotations")] == [clinic.kept.pk, clinic.other.pk]
        assert regenerated.item_count == 2

    def test_a_version_withdrawn_without_its_membership_is_rebuilt_from_its_filter_with_annotations_as_now(
            self, clinic, org_a, owner_a, officer, api_for, monkeypatch):
        version = make_version(org_a, owner_a.user, clinic.dataset)
        monkeypatch.setattr(version_regeneration, "membership_keep", lambda version: {})
        erase(api_for(officer))
        version.refresh_from_db()
        ItemFactory(dataset=clinic.dataset, name="later.jpg")
        annotations_change(org=org_a, actor=owner_a.user, item=clinic.kept, update=[
            {"id": clinic.kept_box.pk, "version": clinic.kept_box.version, "label": "truck", "attributes": {}}])

        regenerated = regenerate(org_a, owner_a.user, version)

        assert version.withdrawn_membership == {}
        assert [row["name"] for row in table(regenerated, "items")] == ["kept.jpg", "other.jpg"]
        assert [row["label"] for row in table(regenerated, "annotations")] == ["truck", "car"]
        assert "annotations as they are now, not as version 1 captured them" in regenerated.notes

    def test_regenerating_is_audited_with_who_and_what(self, org_a, owner_a, withdrawn):
        regenerated = version_regeneration.dataset_version_regenerate(org=org_a, actor=owner_a.user,
                                                                      version=withdrawn)

        event = AuditEvent.objects.get(organization=org_a, action="dataset_version.regenerated")
        assert (event.actor_user_id, event.target_id) == (owner_a.user_id, str(regenerated.pk))
        assert event.metadata["regenerated_from"] == withdrawn.pk
        assert event.metadata["basis"] == "kept_membership"
        assert event.metadata["withdrawn_by_request"] == withdrawn.withdrawn_by_request_id
        assert (event.before["number"], event.after["number"]) == (1, 2)

    def test_a_ready_version_cannot_be_regenerated(self, clinic, org_a, owner_a):
        version = make_version(org_a, owner_a.user, clinic.dataset)

        with pytest.raises(ConflictError, match="only a withdrawn version"):
            version_regeneration.dataset_version_regenerate(org=org_a, actor=owner_a.user, version=version)

        assert DatasetVersion.objects.count() == 1

    def test_a_version_is_regenerated_once_unless_its_regeneration_failed(self, org_a, owner_a, withdrawn,
                                                                          monkeypatch):
        first = version_regeneration.dataset_version_regenerate(org=org_a, actor=owner_a.user, version=withdrawn)
        monkeypatch.setattr(versions, "write_manifest", lambda **kwargs: 1 / 0)
        build_dataset_version(org_a.pk, first.pk)
        monkeypatch.undo()

        second = regenerate(org_a, owner_a.user, withdrawn)

        first.refresh_from_db()
        assert first.status == DatasetVersion.Status.FAILED
        assert (second.status, second.number) == (DatasetVersion.Status.READY, 3)
        with pytest.raises(ConflictError, match="already regenerated as version 3"):
            version_regeneration.dataset_version_regenerate(org=org_a, actor=owner_a.user, version=withdrawn)

    def test_the_database_refuses_to_change_the_lineage_of_a_built_version(self, org_a, owner_a, withdrawn):
        regenerated = regenerate(org_a, owner_a.user, withdrawn)

        for change in ({"notes": "rewritten"}, {"regenerated_from": None}):
            with pytest.raises(DatabaseError), transaction.atomic():
                DatasetVersion.objects.filter(pk=regenerated.pk).update(**change)
        with pytest.raises(DatabaseError), transaction.atomic():
            DatasetVersion.objects.filter(pk=withdrawn.pk).update(withdrawn_membership={})

        regenerated.refresh_from_db()
        assert regenerated.regenerated_from_id == withdrawn.pk


class TestApi:
    def test_regenerate_answers_201_with_the_version_it_replaces(self, owner_a, withdrawn, api_for):
        client = api_for(owner_a)

        response = client.post(f"/api/v1/dataset-versions/{withdrawn.pk}/regenerate/", {}, format="json")

        body = response.json()
        assert response.status_code == 201, response.content
        assert (body["number"], body["status"]) == (2, "building")
        assert body["regenerated_from"] == {"id": withdrawn.pk, "number": 1}
        assert body["replaced_by"] is None
        assert "as version 1 captured them" in body["notes"]
        old = client.get(f"/api/v1/dataset-versions/{withdrawn.pk}/").json()
        assert old["replaced_by"] == {"id": body["id"], "number": 2}
        listed = client.get(f"/api/v1/datasets/{withdrawn.dataset_id}/versions/").json()["results"]
        assert [(v["number"], v["replaced_by"], v["regenerated_from"]) for v in listed] == [
            (2, None, {"id": withdrawn.pk, "number": 1}), (1, {"id": body["id"], "number": 2}, None)]

    def test_regenerating_through_the_api_audits_where_it_came_from(self, org_a, owner_a, withdrawn, api_for):
        api_for(owner_a).post(f"/api/v1/dataset-versions/{withdrawn.pk}/regenerate/", {}, format="json",
                              REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="regen-probe")

        event = AuditEvent.objects.get(organization=org_a, action="dataset_version.regenerated")
        assert (event.actor_user_id, event.ip, event.user_agent) == (owner_a.user_id, "203.0.113.7", "regen-probe")

    def test_a_version_that_is_not_withdrawn_answers_409_saying_why(self, clinic, org_a, owner_a, api_for):
        version = make_version(org_a, owner_a.user, clinic.dataset)

        response = api_for(owner_a).post(f"/api/v1/dataset-versions/{version.pk}/regenerate/", {}, format="json")

        assert response.status_code == 409
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["detail"] == ("Version 1 is ready: only a withdrawn version (one whose files held "
                                             "erased data) can be regenerated.")
        assert DatasetVersion.objects.count() == 1

    def test_the_withdrawn_versions_download_points_at_its_replacement(self, org_a, owner_a, withdrawn, api_for):
        client = api_for(owner_a)
        before = client.get(f"/api/v1/dataset-versions/{withdrawn.pk}/download/")
        regenerated = regenerate(org_a, owner_a.user, withdrawn)

        after = client.get(f"/api/v1/dataset-versions/{withdrawn.pk}/download/?section=items")

        assert before.status_code == 410 and "regenerate this one" in before.json()["detail"]
        assert after.status_code == 410
        assert (f"version 2 replaces it, regenerated without the erased data: "
                f"/api/v1/dataset-versions/{regenerated.pk}/download/") in after.json()["detail"]
        assert client.get(f"/api/v1/dataset-versions/{regenerated.pk}/download/").status_code == 200

    def test_another_organisations_withdrawn_version_is_a_404(self, org_b, owner_b, withdrawn, api_for):
        response = api_for(owner_b).post(f"/api/v1/dataset-versions/{withdrawn.pk}/regenerate/", {}, format="json")

        assert response.status_code == 404
        assert DatasetVersion.objects.count() == 1
        assert not AuditEvent.objects.filter(action="dataset_version.regenerated").exists()

    def test_an_annotator_granted_the_dataset_cannot_regenerate(self, org_a, make_member, withdrawn, api_for):
        from guardian.shortcuts import assign_perm

        annotator = make_member(org_a, Role.ANNOTATOR)
        assign_perm("datasets.view_dataset_items", annotator.user, withdrawn.dataset)

        response = api_for(annotator).post(f"/api/v1/dataset-versions/{withdrawn.pk}/regenerate/", {},
                                           format="json")

        assert response.status_code == 403
        assert DatasetVersion.objects.count() == 1


class TestPage:
    def test_the_versions_page_regenerates_a_withdrawn_version_and_shows_what_replaces_it(
            self, owner_a, withdrawn):
        client = Client()
        client.force_login(owner_a.user)
        url = f"/o/acme/datasets/{withdrawn.dataset_id}/versions/"
        listed = client.get(url).content.decode()

        made = client.post(f"{url}{withdrawn.pk}/regenerate/", follow=True)

        page = made.content.decode()
        regenerated = DatasetVersion.objects.get(number=2)
        assert "Regenerate version 1 without the erased data" in listed
        assert made.redirect_chain == [(url, 302)]
        assert "Version 2 is being built from version 1 without the erased data" in page
        assert f'<a href="#version-{regenerated.pk}">Replaced by version 2</a>' in page
        assert f'Regenerated from <a href="#version-{withdrawn.pk}">version 1</a>' in page
        assert "as version 1 captured them, restored from their revision history" in page
        assert "Regenerate version 1 without the erased data" not in page

    def test_a_ready_version_is_refused_in_words(self, clinic, org_a, owner_a):
        version = make_version(org_a, owner_a.user, clinic.dataset)
        client = Client()
        client.force_login(owner_a.user)

        made = client.post(f"/o/acme/datasets/{clinic.dataset.pk}/versions/{version.pk}/regenerate/", follow=True)

        assert "Version 1 is ready: only a withdrawn version" in made.content.decode()
        assert DatasetVersion.objects.count() == 1

    def test_a_compliance_officer_sees_no_button_and_cannot_post(self, officer, withdrawn):
        client = Client()
        client.force_login(officer.user)
        url = f"/o/acme/datasets/{withdrawn.dataset_id}/versions/"

        posted = client.post(f"{url}{withdrawn.pk}/regenerate/")

        assert posted.status_code == 404
        assert DatasetVersion.objects.count() == 1


class TestAfterARealErasure:
    def test_the_regenerated_files_hold_nothing_of_the_erased_subject(
            self, clinic, org_a, owner_a, officer, api_for, django_capture_on_commit_callbacks):
        owner = api_for(owner_a)
        version = make_version(org_a, owner_a.user, clinic.dataset)
        with blob_open(Blob.objects.get(pk=version.sections["items"]["blob"])) as reader:
            assert MARKER in json.dumps(pq.read_table(reader).to_pylist(), default=str)  # the probe sees it
        with django_capture_on_commit_callbacks(execute=True):
            done = erase(api_for(officer))
        assert done["result"]["withdrawn"]["dataset_versions"] == [version.pk]

        started = owner.post(f"/api/v1/dataset-versions/{version.pk}/regenerate/", {}, format="json")
        with django_capture_on_commit_callbacks(execute=True):
            build_dataset_version(org_a.pk, started.json()["id"])
        response = owner.get(f"/api/v1/dataset-versions/{started.json()['id']}/download/")

        assert response.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        tables = {name: pq.read_table(io.BytesIO(archive.read(name))).to_pylist()
                  for name in archive.namelist() if name.endswith(".parquet")}
        assert not any(MARKER in json.dumps(rows, default=str) for rows in tables.values())
        assert MARKER not in archive.read("version.json").decode()
        assert [row["name"] for row in tables["items.parquet"]] == ["kept.jpg", "other.jpg"]
        assert len(tables["annotations.parquet"]) == 2
        manifest = json.loads(archive.read("version.json"))
        assert manifest["version"]["regenerated_from"] == {"id": version.pk, "number": 1}
        for blob in Blob.objects.filter(organization=org_a):
            assert MARKER.encode() not in blob_read_bytes(blob)
            if blob_read_bytes(blob)[:4] == b"PAR1":
                assert MARKER not in json.dumps(pq.read_table(io.BytesIO(blob_read_bytes(blob))).to_pylist(),
                                                default=str)
