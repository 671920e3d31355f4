"""Export and import jobs through the API: scopes, filters, downloads, audit, live progress, redelivery, a real
worker, and hostile annotation files (each a clear 400 or a per-row error, and nothing written).

The jobs are called directly (exports.export_run, imports.annotation_import_run) except in the one test about the
worker process; tests/annotations/test_formats.py checks the files themselves.
"""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.annotations import exports, imports
from apps.annotations.models import Annotation, AnnotationImportJob, ExportJob
from apps.annotations.services import annotations_change
from apps.compliance.models import AuditEvent
from apps.core.models import OutboxMessage
from apps.live.selectors import subscription_allowed
from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe

from .conftest import car_box


@pytest.fixture
def boxes(street, org_a, owner_a):
    """The street dataset with three items: two on camera A (one with two boxes), one on camera B."""
    street["item"].name, street["item"].metadata = "a.jpg", {"camera": "A"}
    street["item"].save()
    b = ItemFactory(dataset=street["dataset"], name="b.jpg", metadata={"camera": "A"})
    c = ItemFactory(dataset=street["dataset"], name="c.jpg", metadata={"camera": "B"})
    annotations_change(org=org_a, actor=owner_a.user, item=street["item"], create=[car_box(), car_box(x=200)])
    annotations_change(org=org_a, actor=owner_a.user, item=b, create=[car_box()])
    annotations_change(org=org_a, actor=owner_a.user, item=c, create=[car_box()])
    return {**street, "b": b, "c": c}


def start_export(client, dataset, **body):
    return client.post(f"/api/v1/datasets/{dataset.pk}/exports/", {"format": "coco", **body}, format="json")


def run_export(job_id):
    exports.export_run(job=ExportJob.objects.get(pk=job_id))


def coco_document(response) -> dict:
    content = b"".join(response.streaming_content)
    return json.loads(zipfile.ZipFile(io.BytesIO(content)).read("annotations/instances_default.json"))


# --- Exports --------------------------------------------------------------------------------------


class TestExports:
    def test_an_export_runs_in_the_background_and_downloads_through_the_app(self, boxes, org_a, owner_a, api_for):
        client = api_for(owner_a)

        started = start_export(client, boxes["dataset"])

        assert started.status_code == 202, started.content
        job_id = started.json()["id"]
        assert started.json()["status"] == "queued" and started.json()["download_url"] is None
        assert OutboxMessage.objects.get().actor_name == "run_export"
        run_export(job_id)
        detail = client.get(f"/api/v1/exports/{job_id}/").json()
        assert (detail["status"], detail["items_total"], detail["items_done"], detail["annotations_done"]) == (
            "done", 3, 3, 4)
        download = client.get(detail["download_url"])
        assert download.status_code == 200
        assert download["Content-Disposition"].startswith('attachment; filename="Streets-coco-')
        assert download["X-Content-Type-Options"] == "nosniff"
        assert len(coco_document(download)["annotations"]) == 4
        actions = list(AuditEvent.objects.filter(organization=org_a, target_type="annotations.exportjob",
                                                 target_id=str(job_id))
                       .order_by("id").values_list("action", flat=True))
        assert actions == ["export.created", "export.finished", "export.downloaded"]

    def test_the_filter_chooses_the_items(self, boxes, owner_a, api_for):
        client = api_for(owner_a)

        job_id = start_export(client, boxes["dataset"], filter={"metadata.camera": "A"}).json()["id"]
        run_export(job_id)

        document = coco_document(client.get(f"/api/v1/exports/{job_id}/download/"))
        assert sorted(i["file_name"] for i in document["images"]) == ["a.jpg", "b.jpg"]
        assert len(document["annotations"]) == 3

    def test_annotation_facts_of_the_query_language_choose_items_too(self, boxes, owner_a, api_for):
        client = api_for(owner_a)

        job_id = start_export(client, boxes["dataset"], filter={"annotations.count": {"$gte": 2}}).json()["id"]
        run_export(job_id)

        document = coco_document(client.get(f"/api/v1/exports/{job_id}/download/"))
        assert [i["file_name"] for i in document["images"]] == ["a.jpg"] and len(document["annotations"]) == 2

    def test_a_bad_filter_is_a_400_naming_its_path(self, boxes, owner_a, api_for):
        response = start_export(api_for(owner_a), boxes["dataset"], filter={"metadata.camera": {"$regex": "x"}})

        assert response.status_code == 400
        assert response["Content-Type"] == "application/problem+json"
        assert any("metadata.camera" in key for key in response.json()["errors"])
        assert not ExportJob.objects.exists()

    @pytest.mark.parametrize("body,field", [
        ({"format": "pdf"}, "format"),
        ({"format": "coco", "include_revisions": True}, "include_revisions"),
        ({"format": "coco", "filter": ["not", "an", "object"]}, "filter"),
    ])
    def test_bad_options_are_400s(self, boxes, owner_a, api_for, body, field):
        response = start_export(api_for(owner_a), boxes["dataset"], **body)

        assert response.status_code == 400
        assert field in response.json()["errors"]

    def test_a_download_before_the_file_is_ready_is_a_409(self, boxes, owner_a, api_for):
        client = api_for(owner_a)
        job_id = start_export(client, boxes["dataset"]).json()["id"]

        response = client.get(f"/api/v1/exports/{job_id}/download/")

        assert response.status_code == 409
        assert response["Content-Type"] == "application/problem+json"

    def test_an_annotator_cannot_export_even_with_a_grant_on_the_dataset(self, boxes, org_a, owner_a, make_member,
                                                                          api_for):
        annotator = make_member(org_a, Role.ANNOTATOR)
        assign_perm("datasets.change_dataset_items", annotator.user, boxes["dataset"])
        job_id = start_export(api_for(owner_a), boxes["dataset"]).json()["id"]
        run_export(job_id)
        client = api_for(annotator)

        assert start_export(client, boxes["dataset"]).status_code == 404
        assert client.get(f"/api/v1/exports/{job_id}/").status_code == 404
        assert client.get(f"/api/v1/exports/{job_id}/download/").status_code == 404
        assert not AuditEvent.objects.filter(action="export.downloaded").exists()

    def test_a_redelivered_message_exports_once(self, boxes, owner_a, api_for):
        job_id = start_export(api_for(owner_a), boxes["dataset"]).json()["id"]

        run_export(job_id)
        first = ExportJob.objects.get(pk=job_id).result_id
        run_export(job_id)

        assert ExportJob.objects.get(pk=job_id).result_id == first
        assert AuditEvent.objects.filter(action="export.finished").count() == 1

    def test_a_job_whose_worker_died_is_claimed_again(self, boxes, owner_a, api_for):
        job_id = start_export(api_for(owner_a), boxes["dataset"]).json()["id"]
        ExportJob.objects.filter(pk=job_id).update(status="running", heartbeat_at=timezone.now() - timedelta(hours=1))

        run_export(job_id)

        assert ExportJob.objects.get(pk=job_id).status == "done"

    def test_a_running_job_is_not_run_twice(self, boxes, owner_a, api_for):
        job_id = start_export(api_for(owner_a), boxes["dataset"]).json()["id"]
        ExportJob.objects.filter(pk=job_id).update(status="running", heartbeat_at=timezone.now())

        run_export(job_id)

        assert ExportJob.objects.get(pk=job_id).result_id is None

    def test_progress_is_broadcast_to_the_exports_topic(self, boxes, org_a, owner_a, api_for, monkeypatch,
                                                        django_capture_on_commit_callbacks):
        sent = []
        monkeypatch.setattr("apps.core.events.send_now", lambda group, event, data: sent.append((group, event, data)))
        job_id = start_export(api_for(owner_a), boxes["dataset"]).json()["id"]

        with django_capture_on_commit_callbacks(execute=True):
            run_export(job_id)

        assert {group for group, *_ in sent} == {f"org.{org_a.pk}.exports"}
        statuses = [data["status"] for _, _, data in sent]
        assert statuses[0] == "running" and statuses[-1] == "done"
        assert sent[-1][2]["annotations_done"] == 4

    def test_only_exporters_listen_to_the_exports_topic(self, org_a, owner_a, make_member):
        annotator = make_member(org_a, Role.ANNOTATOR)

        assert subscription_allowed(user=owner_a.user, org_slug="acme", topic="exports") == org_a.pk
        assert subscription_allowed(user=annotator.user, org_slug="acme", topic="exports") is None

    def test_a_dataset_without_a_recipe_exports_its_items(self, org_a, owner_a, api_for):
        dataset = DatasetFactory(organization=org_a)
        ItemFactory(dataset=dataset, name="lonely.jpg")
        client = api_for(owner_a)

        job_id = start_export(client, dataset).json()["id"]
        run_export(job_id)

        document = coco_document(client.get(f"/api/v1/exports/{job_id}/download/"))
        assert (document["categories"], [i["file_name"] for i in document["images"]]) == ([], ["lonely.jpg"])

    def test_the_list_shows_the_datasets_exports_newest_first(self, boxes, owner_a, api_for):
        client = api_for(owner_a)
        first = start_export(client, boxes["dataset"]).json()["id"]
        second = start_export(client, boxes["dataset"], format="native").json()["id"]

        listed = client.get(f"/api/v1/datasets/{boxes['dataset'].pk}/exports/").json()["results"]

        assert [j["id"] for j in listed] == [second, first]


# --- Imports --------------------------------------------------------------------------------------


def coco_file(annotations, images=None, categories=None) -> bytes:
    return json.dumps({
        "images": images if images is not None else [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480}],
        "categories": categories if categories is not None else [{"id": 1, "name": "car"}, {"id": 2, "name": "truck"}],
        "annotations": annotations,
    }).encode()


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def box(**extra):
    return {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40], "attributes": {"colour": "red"},
            **extra}


@pytest.fixture
def target(street):
    street["item"].name = "a.jpg"
    street["item"].save()
    return street


def upload(client, dataset, content: bytes, name="annotations.json", format="coco"):
    return client.post(f"/api/v1/datasets/{dataset.pk}/annotation-imports/",
                       {"file": SimpleUploadedFile(name, content), "format": format}, format="multipart")


def import_file(client, dataset, content: bytes, name="annotations.json", format="coco") -> dict:
    response = upload(client, dataset, content, name, format)
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    imports.annotation_import_run(job=AnnotationImportJob.objects.get(pk=job_id))
    return client.get(f"/api/v1/annotation-imports/{job_id}/").json()


class TestImports:
    def test_an_import_creates_every_annotation_with_its_revision_and_audit(self, target, org_a, owner_a, api_for):
        client = api_for(owner_a)

        job = import_file(client, target["dataset"], coco_file([box(), box(id=2, category_id=2, attributes={})]))

        assert (job["status"], job["annotations_created"], job["items_matched"], job["errors"]) == ("done", 2, 1, [])
        created = Annotation.objects.filter(item=target["item"])
        assert {a.label for a in created} == {"car", "truck"}
        assert {a.source for a in created} == {"import"}
        assert {a.recipe_version_id for a in created} == {target["version"].pk}
        event = AuditEvent.objects.get(organization=org_a, action="annotations.imported")
        assert event.metadata["created"] == 2 and event.actor_user_id == owner_a.user_id
        listed = client.get(f"/api/v1/datasets/{target['dataset'].pk}/annotation-imports/").json()["results"]
        assert [j["id"] for j in listed] == [job["id"]] and "errors" not in listed[0]

    @pytest.mark.parametrize("content,words", [
        (b'{"images": [', "not valid JSON"),
        (b'{"annotations": [{"bbox": [NaN, 1, 2, 3]}]}', "NaN is not a number JSON allows"),
        (b'{"annotations": [{"bbox": [Infinity, 1, 2, 3]}]}', "Infinity is not a number JSON allows"),
        (b'{"annotations": [{"bbox": [1e999, 1, 2, 3]}]}', "too large for a number"),
        (b'{"annotations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b'{"images": "all of them", "annotations": []}', "'images' must be a list"),
        (b'{"annotations": [], "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg"}]}',
         "appears twice"),
    ], ids=["truncated", "nan", "infinity", "overflow", "depth-bomb", "wrong-type", "duplicate-id"])
    def test_a_file_that_cannot_be_read_is_rejected_whole(self, target, owner_a, api_for, content, words):
        job = import_file(api_for(owner_a), target["dataset"], content)

        assert job["status"] == "rejected"
        assert words in job["message"]
        assert not Annotation.objects.exists()

    @pytest.mark.parametrize("bad,words", [
        (box(image_id=9), "image_id 9 is not in the file's images"),
        (box(category_id="1"), "category_id 1 is not in the file's categories"),
        (box(bbox="10,20,30,40"), "no bbox, segmentation or keypoints"),
        (box(bbox=[10, 20, "wide", 40]), "geometry.w: Must be a number"),
        (box(bbox=[10, 20, 3000, 40]), "outside the item"),
        (box(segmentation=[[1.5] * 40_000]), "geometry.exterior: At most 10000 vertices"),
        (box(attributes={"colour": "purple"}), "attributes.colour"),
        (box(attributes={"secret": "=1+1"}), "attributes.secret: Not an attribute"),
        (box(category_id=3), "'bus' is not a label of the pinned recipe version"),
        (box(score=7), "confidence"),
    ], ids=["unknown-image", "category-as-text", "bbox-as-text", "coordinate-as-text", "outside", "huge-polygon",
            "bad-enum", "unknown-attribute", "label-not-in-recipe", "score"])
    def test_a_bad_row_is_reported_and_nothing_is_written(self, target, owner_a, api_for, bad, words):
        categories = [{"id": 1, "name": "car"}, {"id": 3, "name": "bus"}]

        job = import_file(api_for(owner_a), target["dataset"], coco_file([box(id=7), {**bad, "id": 8}],
                                                                         categories=categories))

        assert job["status"] == "rejected"
        assert job["errors_total"] == 1
        assert job["errors"][0]["reference"] == "annotations.json annotations[1]"
        assert words in job["errors"][0]["message"]
        assert not Annotation.objects.exists()
        assert AuditEvent.objects.filter(action="annotation_import.rejected").exists()

    def test_images_not_in_the_dataset_are_row_errors(self, target, owner_a, api_for):
        images = [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "elsewhere.jpg"}]

        job = import_file(api_for(owner_a), target["dataset"], coco_file([box(), box(id=2, image_id=2)], images))

        assert job["status"] == "rejected"
        assert [e["message"] for e in job["errors"]] == ["No item of this dataset is named 'elsewhere.jpg'."]
        assert not Annotation.objects.exists()

    def test_an_ambiguous_name_needs_its_folder(self, target, owner_a, api_for):
        ItemFactory(dataset=target["dataset"], name="a.jpg", folder="/night")
        client = api_for(owner_a)
        images = [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "night/a.jpg"}]

        job = import_file(client, target["dataset"], coco_file([box(), box(id=2, image_id=2)], images))

        assert "2 items of this dataset have this name ('a.jpg')" in job["errors"][0]["message"]
        job = import_file(client, target["dataset"], coco_file([box(id=2, image_id=2)], images))
        assert job["status"] == "done"
        assert Annotation.objects.get().item.folder == "/night"

    def test_the_report_keeps_a_thousand_errors_and_counts_them_all(self, target, owner_a, api_for):
        rows = [box(id=n, image_id=99) for n in range(1, 1501)]

        job = import_file(api_for(owner_a), target["dataset"], coco_file(rows))

        assert (len(job["errors"]), job["errors_total"]) == (1000, 1500)

    def test_the_csv_report_neutralises_formulas(self, target, owner_a, api_for):
        client = api_for(owner_a)
        job = import_file(client, target["dataset"], coco_file([box(image_id=9)]), name="=HYPERLINK(1).json")

        report = client.get(f"/api/v1/annotation-imports/{job['id']}/errors.csv")

        assert report.status_code == 200 and report["Content-Type"] == "text/csv; charset=utf-8"
        lines = report.content.decode().splitlines()
        assert lines[1].startswith("'=HYPERLINK(1).json annotations[0],")
        assert [imports.neutralise(p + "x") for p in ("=", "+", "-", "@", "\t", "\r")] == [
            "'=x", "'+x", "'-x", "'@x", "'\tx", "'\rx"]

    def test_a_yolo_zip_slip_is_rejected_whole(self, target, owner_a, api_for):
        content = zipped({"obj.names": b"car\n", "labels/train/a.txt": b"0 0.5 0.5 0.1 0.1\n",
                          "../../outside.txt": b"0 0.5 0.5 0.1 0.1\n"})

        job = import_file(api_for(owner_a), target["dataset"], content, name="y.zip", format="yolo")

        assert job["status"] == "rejected" and "climbs out of the archive" in job["message"]
        assert not Annotation.objects.exists()

    def test_yolo_lines_are_checked_one_by_one(self, target, owner_a, api_for):
        lines = b"0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n0 nan 0.5 0.1 0.1\n0 0.5 0.5 0.1\n0 1.5 0.5 0.1 0.1\n"
        content = zipped({"data.yaml": b"names: [car]\n", "labels/train/a.txt": lines})

        job = import_file(api_for(owner_a), target["dataset"], content, name="y.zip", format="yolo")

        assert [e["reference"] for e in job["errors"]] == [f"labels/train/a.txt:{n}" for n in (2, 3, 4, 5)]
        assert not Annotation.objects.exists()

    def test_a_yolo_import_that_is_no_zip_is_a_400(self, target, owner_a, api_for):
        response = upload(api_for(owner_a), target["dataset"], b"0 0.5 0.5 0.1 0.1\n", name="a.txt", format="yolo")

        assert response.status_code == 400 and "zip" in response.json()["errors"]["file"][0]
        assert not AnnotationImportJob.objects.exists()

    @pytest.mark.parametrize("xml", [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b"<annotation><filename>a.jpg</filename><object><name>&lol2;</name></object></annotation>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<annotation><filename>a.jpg</filename><object><name>&xxe;</name></object></annotation>",
    ], ids=["billion-laughs", "external-entity"])
    def test_voc_entities_are_refused(self, target, owner_a, api_for, xml):
        content = zipped({"Annotations/a.xml": xml})

        job = import_file(api_for(owner_a), target["dataset"], content, name="v.zip", format="voc")

        assert job["status"] == "rejected"
        assert "DTD or entity" in job["errors"][0]["message"]
        assert not Annotation.objects.exists()

    def test_a_voc_label_not_in_the_recipe_is_an_error_not_a_new_label(self, target, owner_a, api_for):
        xml = (b"<annotation><filename>a.jpg</filename><object><name>bus</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
               b"<xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>")

        job = import_file(api_for(owner_a), target["dataset"], zipped({"Annotations/a.xml": xml}), name="v.zip",
                          format="voc")

        assert "'bus' is not a label" in job["errors"][0]["message"]
        assert "bus" not in json.dumps(target["version"].spec)

    def test_importing_needs_the_change_scope_and_a_recipe(self, target, org_a, make_member, owner_a, api_for):
        annotator = make_member(org_a, Role.ANNOTATOR)
        bare = DatasetFactory(organization=org_a)

        assert upload(api_for(annotator), target["dataset"], coco_file([box()])).status_code == 404
        response = upload(api_for(owner_a), bare, coco_file([box()]))
        assert response.status_code == 400 and "recipe" in response.json()["errors"]["dataset"][0]

    def test_a_member_who_left_before_the_job_ran_imports_nothing(self, target, org_a, make_member, api_for):
        manager = make_member(org_a, Role.MANAGER)
        response = upload(api_for(manager), target["dataset"], coco_file([box()]))
        manager.delete()

        imports.annotation_import_run(job=AnnotationImportJob.objects.get(pk=response.json()["id"]))

        assert AnnotationImportJob.objects.get().status == "rejected"
        assert not Annotation.objects.exists()

    def test_another_tenants_dataset_is_a_404(self, target, org_b, owner_b, api_for):
        response = upload(api_for(owner_b), target["dataset"], coco_file([box()]))

        assert response.status_code == 404


def test_a_recipe_of_another_dataset_does_not_leak_into_an_export(org_a, owner_a, api_for):
    """Categories come from the exported dataset's own recipe versions only."""
    mine, theirs = DatasetFactory(organization=org_a), DatasetFactory(organization=org_a)
    published_recipe(org_a, owner_a.user, dataset=mine)
    spec = {"labels": [{"name": "secret-project", "tools": ["bbox"]}]}
    published_recipe(org_a, owner_a.user, name="Other", spec=spec, dataset=theirs)
    client = api_for(owner_a)

    job_id = start_export(client, mine).json()["id"]
    run_export(job_id)

    names = [c["name"] for c in coco_document(client.get(f"/api/v1/exports/{job_id}/download/"))["categories"]]
    assert names == ["car", "truck", "person"]


# --- A real worker ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_worker_process_runs_an_export_queued_through_the_outbox(transactional_db, org_a, owner_a, api_for,
                                                                   tmp_path):
    import redis
    from django.conf import settings

    from tests.processes import manage, process_env, running, wait_for

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    dataset = DatasetFactory(organization=org_a)
    published_recipe(org_a, owner_a.user, dataset=dataset)
    item = ItemFactory(dataset=dataset, name="a.jpg")
    annotations_change(org=org_a, actor=owner_a.user, item=item, create=[car_box()])
    args = manage("rundramatiq", "--processes", "1", "--threads", "1", "--queues", "default")
    with running(args, process_env(), tmp_path / "worker.log"):
        job_id = start_export(api_for(owner_a), dataset, format="yolo").json()["id"]

        job = wait_for(lambda: ExportJob.objects.filter(pk=job_id, status__in=["done", "failed"]).first(),
                       timeout=90, what="the worker to finish the export")

    assert job.status == "done", (job.error, (tmp_path / "worker.log").read_text()[-3000:])
    assert (job.items_done, job.annotations_done, job.result.size > 0) == (1, 1, True)
