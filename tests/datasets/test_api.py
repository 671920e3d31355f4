"""Datasets and items through the API: what a customer admin's script would see."""

import hashlib

import pytest
from guardian.shortcuts import assign_perm

from apps.compliance.models import AuditEvent
from apps.datasets.models import Dataset, Item
from apps.storage.models import Blob
from apps.tenancy.roles import Role

from .conftest import png_bytes, upload
from .factories import ItemFactory


def items_post(client, dataset, *files, **data):
    return client.post(f"/api/v1/datasets/{dataset.pk}/items/", {"files": list(files), **data}, format="multipart")


class TestDatasets:
    def test_a_manager_creates_a_dataset(self, org_a, manager_a, api_for):
        response = api_for(manager_a).post(
            "/api/v1/datasets/", {"name": "Dashcam", "classification": "personal", "retention_days": 30}, format="json"
        )

        assert response.status_code == 201
        assert response.json()["classification"] == "personal"
        assert AuditEvent.objects.filter(organization=org_a, action="dataset.created").exists()

    def test_a_duplicate_name_is_refused_naming_the_field(self, dataset_a, manager_a, api_for):
        response = api_for(manager_a).post("/api/v1/datasets/", {"name": "Street scenes"}, format="json")

        assert response.status_code == 400
        assert "already exists" in response.json()["errors"]["name"][0]

    def test_annotators_see_only_the_datasets_granted_to_them(self, org_a, dataset_a, owner_a, make_member, api_for):
        from apps.datasets.services import dataset_create

        other = dataset_create(org=org_a, actor=owner_a.user, name="Secret")
        annotator = make_member(org_a, Role.ANNOTATOR)
        assign_perm("datasets.view_dataset_items", annotator.user, dataset_a)
        client = api_for(annotator)

        listed = {d["id"] for d in client.get("/api/v1/datasets/").json()["results"]}

        assert listed == {dataset_a.pk}
        assert client.get(f"/api/v1/datasets/{other.pk}/").status_code == 404
        assert client.post(f"/api/v1/datasets/{dataset_a.pk}/items/query/", {}, format="json").status_code == 200


class TestUploads:
    def test_uploaded_images_become_items_with_their_facts(self, org_a, dataset_a, manager_a, api_for):
        content = png_bytes(40, 30)

        response = items_post(api_for(manager_a), dataset_a, upload("a.png", content), upload("b.png", content),
                              folder="/train/cats")

        assert response.status_code == 201, response.content
        first = response.json()[0]
        assert (first["kind"], first["width"], first["height"], first["folder"], first["mime"]) == (
            "image", 40, 30, "/train/cats", "image/png"
        )
        assert first["sha256"] == hashlib.sha256(content).hexdigest() and first["size"] == len(content)
        assert AuditEvent.objects.get(organization=org_a, action="items.uploaded").metadata["count"] == 2

    def test_content_is_served_decrypted_with_safe_headers_and_audited(self, org_a, dataset_a, manager_a, api_for):
        content = png_bytes()
        client = api_for(manager_a)
        item_id = items_post(client, dataset_a, upload("a.png", content)).json()[0]["id"]

        response = client.get(f"/api/v1/items/{item_id}/content/")
        partial = client.get(f"/api/v1/items/{item_id}/content/?download=1", HTTP_RANGE="bytes=0-9")

        assert response.status_code == 200 and b"".join(response.streaming_content) == content
        assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
        assert partial.status_code == 206 and b"".join(partial.streaming_content) == content[:10]
        assert partial["Content-Disposition"].startswith("attachment")
        actions = set(AuditEvent.objects.filter(organization=org_a, target_id=str(item_id)).values_list("action",
                                                                                                          flat=True))
        assert {"item.viewed", "item.downloaded"} <= actions

    @pytest.mark.parametrize("name,content,expected", [
        ("cat.jpg", b"<html><script>alert(1)</script></html>", "HTML"),
        ("cat.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
        ("cat.png", b"MZ\x90\x00" + b"\x00" * 100, "cat.png"),
    ])
    def test_content_that_lies_about_its_type_is_refused_and_nothing_is_stored(self, dataset_a, manager_a, api_for,
                                                                               name, content, expected):
        response = items_post(api_for(manager_a), dataset_a, upload("ok.png", png_bytes()), upload(name, content))

        assert response.status_code == 400
        assert expected in response.json()["errors"]["files.1"][0]
        assert not Item.objects.filter(dataset=dataset_a).exists()
        assert not Blob.objects.exists()

    def test_a_decompression_bomb_is_refused(self, dataset_a, manager_a, api_for, settings):
        settings.INTAKE_MAX_IMAGE_PIXELS = 1000

        response = items_post(api_for(manager_a), dataset_a, upload("big.png", png_bytes(100, 100)))

        assert response.status_code == 400
        assert "files.0" in response.json()["errors"]

    def test_a_declared_kind_must_match_the_content(self, dataset_a, manager_a, api_for):
        response = items_post(api_for(manager_a), dataset_a, upload("a.png", png_bytes()), kind="video")

        assert response.status_code == 400
        assert "video" in response.json()["errors"]["files.0"][0]

    def test_a_thumbnail_is_made_by_the_worker_job(self, dataset_a, manager_a, api_for):
        from apps.datasets.tasks import make_item_thumbnail

        client = api_for(manager_a)
        item = Item.objects.get(pk=items_post(client, dataset_a, upload("a.png", png_bytes(600, 400))).json()[0]["id"])

        make_item_thumbnail.fn(item.organization_id, item.pk)

        response = client.get(f"/api/v1/items/{item.pk}/thumbnail/")
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


class TestItems:
    def test_metadata_is_patched_with_merge_semantics(self, org_a, dataset_a, manager_a, api_for):
        item = ItemFactory(dataset=dataset_a, metadata={"camera": "A", "weather": {"rain": True, "fog": False}})

        response = api_for(manager_a).patch(
            f"/api/v1/items/{item.pk}/", {"metadata": {"camera": "B", "weather": {"fog": None}, "frame": 7}},
            format="json",
        )

        assert response.status_code == 200
        assert response.json()["metadata"] == {"camera": "B", "weather": {"rain": True}, "frame": 7}
        event = AuditEvent.objects.get(organization=org_a, action="item.updated")
        assert event.before["metadata"]["camera"] == "A" and event.after["metadata"]["camera"] == "B"

    @pytest.mark.parametrize("body,field", [
        ({"metadata": [1, 2]}, "metadata"),
        ({"folder": "/a/../../etc"}, "folder"),
        ({"name": "a/b"}, "name"),
        ({"metadata": {"a": "x" * 20000}}, "metadata"),
    ])
    def test_bad_item_changes_name_the_field(self, dataset_a, manager_a, api_for, body, field):
        item = ItemFactory(dataset=dataset_a)

        response = api_for(manager_a).patch(f"/api/v1/items/{item.pk}/", body, format="json")

        assert response.status_code == 400
        assert field in response.json()["errors"]

    def test_deleting_an_item_removes_its_encrypted_bytes(self, dataset_a, manager_a, api_for, region_roots,
                                                          django_capture_on_commit_callbacks):
        client = api_for(manager_a)
        item_id = items_post(client, dataset_a, upload("a.png", png_bytes())).json()[0]["id"]
        blob = Item.objects.get(pk=item_id).blob
        path = region_roots[blob.region] / blob.key
        assert path.exists()

        with django_capture_on_commit_callbacks(execute=True):
            assert client.delete(f"/api/v1/items/{item_id}/").status_code == 204

        assert not Item.objects.filter(pk=item_id).exists()
        assert not path.exists()


class TestQuery:
    def test_a_filter_sort_and_cursor_walk_the_dataset(self, dataset_a, manager_a, api_for):
        for i in range(7):
            ItemFactory(dataset=dataset_a, size=100 + i, metadata={"camera": "A" if i % 2 else "B"})
        client = api_for(manager_a)
        body = {"filter": {"metadata.camera": "A"}, "sort": ["-size"], "page_size": 2}

        first = client.post(f"/api/v1/datasets/{dataset_a.pk}/items/query/", body, format="json").json()
        second = client.post(f"/api/v1/datasets/{dataset_a.pk}/items/query/",
                             {**body, "cursor": first["next_cursor"]}, format="json").json()

        assert [i["size"] for i in first["results"]] == [105, 103]
        assert [i["size"] for i in second["results"]] == [101]
        assert (first["count"], first["count_exact"], second["next_cursor"]) == (3, True, None)

    def test_a_bad_query_names_the_path(self, dataset_a, manager_a, api_for):
        response = api_for(manager_a).post(
            f"/api/v1/datasets/{dataset_a.pk}/items/query/",
            {"filter": {"$and": [{"size": {"$gt": "big"}}]}}, format="json",
        )

        assert response.status_code == 400
        assert any("size" in path for path in response.json()["errors"])

    @pytest.mark.parametrize("field", ["created_by__password", "dataset__organization__name", "metadata__x",
                                       "organization_id"])
    def test_fields_outside_the_whitelist_are_refused(self, dataset_a, manager_a, api_for, field):
        response = api_for(manager_a).post(
            f"/api/v1/datasets/{dataset_a.pk}/items/query/", {"filter": {field: "x"}}, format="json"
        )

        assert response.status_code == 400

    def test_listing_personal_data_is_audited_with_the_ids(self, org_a, dataset_a, manager_a, api_for):
        item = ItemFactory(dataset=dataset_a)

        api_for(manager_a).post(f"/api/v1/datasets/{dataset_a.pk}/items/query/", {}, format="json")

        event = AuditEvent.objects.get(organization=org_a, action="items.listed")
        assert event.metadata["item_ids"] == [item.pk]

    def test_bulk_actions_apply_to_what_the_query_matches(self, dataset_a, manager_a, api_for):
        night = [ItemFactory(dataset=dataset_a, metadata={"time": "night"}) for _ in range(3)]
        day = ItemFactory(dataset=dataset_a, metadata={"time": "day"})
        client = api_for(manager_a)
        url = f"/api/v1/datasets/{dataset_a.pk}/items/bulk/"

        moved = client.post(url, {"filter": {"metadata.time": "night"}, "action": "move", "folder": "/night"},
                            format="json")
        tagged = client.post(url, {"filter": {"folder": "/night"}, "action": "set_metadata",
                                   "metadata": {"reviewed": True}}, format="json")
        deleted = client.post(url, {"filter": {"metadata.time": "day"}, "action": "delete"}, format="json")

        assert (moved.json()["count"], tagged.json()["count"], deleted.json()["count"]) == (3, 3, 1)
        assert set(Item.objects.filter(folder="/night").values_list("pk", flat=True)) == {i.pk for i in night}
        assert all(i.metadata == {"time": "night", "reviewed": True} for i in Item.objects.filter(folder="/night"))
        assert not Item.objects.filter(pk=day.pk).exists()

    def test_saved_filters_round_trip(self, dataset_a, manager_a, api_for):
        client = api_for(manager_a)
        created = client.post(f"/api/v1/datasets/{dataset_a.pk}/saved-filters/",
                              {"name": "Night", "filter": {"metadata.time": "night"}, "sort": ["-created_at"]},
                              format="json")
        bad = client.post(f"/api/v1/datasets/{dataset_a.pk}/saved-filters/",
                          {"name": "Bad", "filter": {"nope": 1}}, format="json")

        assert created.status_code == 201 and bad.status_code == 400
        listed = client.get(f"/api/v1/datasets/{dataset_a.pk}/saved-filters/").json()["results"]
        assert [f["name"] for f in listed] == ["Night"]


def test_dataset_classification_choices_are_enforced(manager_a, api_for):
    response = api_for(manager_a).post("/api/v1/datasets/", {"name": "X", "classification": "secret"}, format="json")

    assert response.status_code == 400
    assert Dataset.objects.count() == 0


def test_a_bulk_delete_beyond_the_inline_limit_runs_as_batches_in_the_worker(org_a, dataset_a, manager_a, api_for,
                                                                             monkeypatch):
    from apps.datasets import services
    from apps.datasets.tasks import delete_matching_items

    monkeypatch.setattr(services, "BULK_DELETE_INLINE_LIMIT", 3)
    monkeypatch.setattr(services, "BULK_DELETE_BATCH", 2)
    doomed = [ItemFactory(dataset=dataset_a, metadata={"blurry": True}) for _ in range(5)]
    kept = ItemFactory(dataset=dataset_a, metadata={"blurry": False})

    response = api_for(manager_a).post(f"/api/v1/datasets/{dataset_a.pk}/items/bulk/",
                                       {"filter": {"metadata.blurry": True}, "action": "delete"}, format="json")
    for _ in range(3):  # what the worker does, one batch per message
        delete_matching_items.fn(org_a.pk, dataset_a.pk, {"metadata.blurry": True}, manager_a.user_id)

    assert response.status_code == 202 and response.json()["queued"] is True
    assert not Item.objects.filter(pk__in=[i.pk for i in doomed]).exists()
    assert Item.objects.filter(pk=kept.pk).exists()
    batches = AuditEvent.objects.filter(organization=org_a, action="items.bulk_deleted")
    assert sorted(len(e.metadata["item_ids"]) for e in batches) == [1, 2, 2]
