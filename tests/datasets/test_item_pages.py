"""The dataset pages as a browser without JavaScript sees them: uploads, imports and one item."""

import json

from guardian.shortcuts import assign_perm

from apps.compliance.models import AuditEvent
from apps.datasets import services
from apps.datasets.models import ImportJob, ImportRowError, Item
from apps.tenancy.roles import Role

from .conftest import png_bytes, upload
from .factories import ItemFactory
from .pages import HOSTILE, signed_in

# --- Uploads and imports -----------------------------------------------------------------------


class TestUploads:
    def test_the_upload_page_offers_files_and_imports(self, dataset_a, manager_a):
        response = signed_in(manager_a).get(f"/o/acme/datasets/{dataset_a.pk}/upload/")

        assert response.status_code == 200
        assert b'type="file" name="files"' in response.content and b"multiple" in response.content
        assert b"Start import" in response.content

    def test_files_are_uploaded_without_javascript(self, org_a, dataset_a, manager_a):
        response = signed_in(manager_a).post(f"/o/acme/datasets/{dataset_a.pk}/upload/", {
            "files": [upload("a.png", png_bytes()), upload("b.png", png_bytes())], "folder": "/train",
        })

        assert response.status_code == 302
        assert sorted(Item.objects.filter(dataset=dataset_a).values_list("name", "folder")) == [
            ("a.png", "/train"), ("b.png", "/train"),
        ]

    def test_a_file_that_lies_about_its_type_is_refused_in_words(self, dataset_a, manager_a):
        response = signed_in(manager_a).post(f"/o/acme/datasets/{dataset_a.pk}/upload/", {
            "files": [upload("evil.png", b"<html><script>alert(1)</script></html>")],
        })

        assert response.status_code == 400
        assert b"Nothing was uploaded" in response.content and b"evil.png" in response.content
        assert not Item.objects.filter(dataset=dataset_a).exists()

    def test_an_import_is_started_and_listed(self, org_a, dataset_a, manager_a):
        client = signed_in(manager_a)
        manifest = upload("list.csv", b"url\nhttps://example.test/a.png\n", "text/csv")

        response = client.post(f"/o/acme/datasets/{dataset_a.pk}/import/", {"file": manifest, "folder": "/"})
        page = client.get(response["Location"])

        job = ImportJob.objects.get(dataset=dataset_a)
        assert response.status_code == 302
        assert f'data-job-id="{job.pk}"'.encode() in page.content

    def test_a_wrong_import_file_is_refused_in_words(self, dataset_a, manager_a):
        response = signed_in(manager_a).post(f"/o/acme/datasets/{dataset_a.pk}/import/", {
            "file": upload("notes.txt", b"hello"),
        })

        assert response.status_code == 400
        assert b"Send a .csv or .jsonl manifest, or a .zip archive." in response.content

    def test_the_row_error_report_is_a_page(self, org_a, dataset_a, manager_a):
        job = ImportJob.objects.create(organization=org_a, dataset=dataset_a, source="manifest", status="done",
                                       total=2, processed=2, failed=1, succeeded=1)
        ImportRowError.objects.create(organization=org_a, job=job, row=2, reference=HOSTILE, message="bad URL")

        response = signed_in(manager_a).get(f"/o/acme/imports/{job.pk}/errors/")

        assert response.status_code == 200
        assert b"bad URL" in response.content and HOSTILE.encode() not in response.content

    def test_uploading_needs_the_change_scope(self, org_a, dataset_a, make_member):
        annotator = make_member(org_a, Role.ANNOTATOR)
        assign_perm("datasets.view_dataset_items", annotator.user, dataset_a)

        response = signed_in(annotator).get(f"/o/acme/datasets/{dataset_a.pk}/upload/")

        assert response.status_code == 404


# --- One item ----------------------------------------------------------------------------------


class TestItemPage:
    def test_the_item_page_shows_its_facts_and_escapes_a_hostile_name(self, dataset_a, manager_a):
        item = ItemFactory(dataset=dataset_a, name=HOSTILE, size=2048, width=640, height=480, mime="image/png",
                           sha256="ab" * 32, metadata={"note": "</textarea><script>alert(1)</script>"})

        response = signed_in(manager_a).get(f"/o/acme/items/{item.pk}/")

        content = response.content.decode()
        assert response.status_code == 200
        assert HOSTILE not in content and "&lt;img src=x onerror=alert(1)&gt;" in content
        assert "<script>alert(1)</script>" not in content
        assert "640 \u00d7 480 pixels" in content and "2.0\xa0KB (2,048 bytes)" in content and "ab" * 32 in content
        assert "image/png" in content

    def test_an_uploaded_image_is_previewed_from_its_content_url(self, org_a, dataset_a, manager_a):
        client = signed_in(manager_a)
        client.post(f"/o/acme/datasets/{dataset_a.pk}/upload/", {"files": [upload("a.png", png_bytes())]})
        item = Item.objects.get(dataset=dataset_a)

        response = client.get(f"/o/acme/items/{item.pk}/")

        assert f'id="preview-image" class="preview-image" src="/api/v1/items/{item.pk}/content/"'.encode() in (
            response.content
        )

    def test_another_organisations_item_is_not_found(self, org_b, owner_b, manager_a):
        theirs = ItemFactory(dataset=services.dataset_create(org=org_b, actor=owner_b.user, name="G"))

        response = signed_in(manager_a).get(f"/o/acme/items/{theirs.pk}/")

        assert response.status_code == 404

    def test_an_annotator_granted_the_dataset_sees_the_item_without_editors(self, org_a, dataset_a, make_member):
        item = ItemFactory(dataset=dataset_a, metadata={"camera": "A"})
        annotator = make_member(org_a, Role.ANNOTATOR)
        assign_perm("datasets.view_dataset_items", annotator.user, dataset_a)

        response = signed_in(annotator).get(f"/o/acme/items/{item.pk}/")

        assert response.status_code == 200
        assert b'id="metadata-form"' not in response.content
        assert b"&quot;camera&quot;: &quot;A&quot;" in response.content

    def test_metadata_that_is_not_json_is_refused_in_words(self, dataset_a, manager_a):
        item = ItemFactory(dataset=dataset_a, metadata={"camera": "A"})

        response = signed_in(manager_a).post(f"/o/acme/items/{item.pk}/metadata/", {"metadata": '{"camera": '})

        assert response.status_code == 400
        assert b"This is not valid JSON: Expecting value at line 1, column 11." in response.content
        assert Item.objects.get(pk=item.pk).metadata == {"camera": "A"}

    def test_metadata_that_is_not_an_object_is_refused_in_words(self, dataset_a, manager_a):
        item = ItemFactory(dataset=dataset_a)

        response = signed_in(manager_a).post(f"/o/acme/items/{item.pk}/metadata/", {"metadata": "[1, 2]"})

        assert response.status_code == 400
        assert b"Metadata must be a JSON object" in response.content

    def test_metadata_too_deep_is_refused_by_the_service_in_words(self, dataset_a, manager_a):
        item = ItemFactory(dataset=dataset_a)
        deep = "{" + '"a": {' * 12 + "}" * 13

        response = signed_in(manager_a).post(f"/o/acme/items/{item.pk}/metadata/", {"metadata": deep})

        assert response.status_code == 400
        assert b"Metadata is nested deeper than 10 levels." in response.content

    def test_the_metadata_editor_saves_the_whole_object(self, org_a, dataset_a, manager_a):
        item = ItemFactory(dataset=dataset_a, metadata={"camera": "A", "old": 1, "box": {"x": 1, "y": 2}})

        response = signed_in(manager_a).post(f"/o/acme/items/{item.pk}/metadata/", {
            "metadata": json.dumps({"camera": "B", "box": {"x": 1}, "new": [1, 2]}),
        })

        assert response.status_code == 302
        assert Item.objects.get(pk=item.pk).metadata == {"camera": "B", "box": {"x": 1}, "new": [1, 2]}
        assert AuditEvent.objects.filter(organization=org_a, action="item.updated", target_id=str(item.pk)).exists()

    def test_an_item_is_renamed_and_moved(self, dataset_a, manager_a):
        item = ItemFactory(dataset=dataset_a, name="a.png", folder="/")

        signed_in(manager_a).post(f"/o/acme/items/{item.pk}/edit/", {"name": "b.png", "folder": "train/cats"})

        item.refresh_from_db()
        assert (item.name, item.folder) == ("b.png", "/train/cats")

    def test_a_name_with_a_slash_is_refused_in_words(self, dataset_a, manager_a):
        item = ItemFactory(dataset=dataset_a, name="a.png")

        response = signed_in(manager_a).post(f"/o/acme/items/{item.pk}/edit/", {"name": "x/y", "folder": "/"})

        assert response.status_code == 400
        assert b"A name is 1 to 500 characters, without &#x27;/&#x27;." in response.content
        assert Item.objects.get(pk=item.pk).name == "a.png"

    def test_deleting_an_item_asks_first_then_deletes(self, dataset_a, manager_a):
        item = ItemFactory(dataset=dataset_a, name="a.png")
        client = signed_in(manager_a)

        asked = client.get(f"/o/acme/items/{item.pk}/delete/")
        done = client.post(f"/o/acme/items/{item.pk}/delete/")

        assert b"Delete a.png from Street scenes?" in asked.content
        assert done["Location"] == f"/o/acme/datasets/{dataset_a.pk}/"
        assert not Item.objects.filter(pk=item.pk).exists()

    def test_an_annotator_granted_only_viewing_cannot_delete(self, org_a, dataset_a, make_member):
        item = ItemFactory(dataset=dataset_a)
        annotator = make_member(org_a, Role.ANNOTATOR)
        assign_perm("datasets.view_dataset_items", annotator.user, dataset_a)

        response = signed_in(annotator).post(f"/o/acme/items/{item.pk}/delete/")

        assert response.status_code == 404
        assert Item.objects.filter(pk=item.pk).exists()
