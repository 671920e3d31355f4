"""Dataset versions: immutable Parquet manifests of items and annotations, their diff, their download."""

import io
import json
import zipfile
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from django.db import DatabaseError, transaction
from django.test import Client

from apps.annotations.services import annotations_change
from apps.compliance.models import AuditEvent
from apps.datasets import version_services, versions
from apps.datasets.models import DatasetVersion, Item
from apps.datasets.services import item_delete, item_update
from apps.datasets.tasks import build_dataset_version
from apps.storage.models import Blob
from apps.storage.services import blob_open
from apps.tenancy.roles import Role
from tests.recipes.factories import published_recipe

from .factories import DatasetFactory, ItemFactory


def box(label="car", x=10, **extra):
    attributes = {"colour": "red"} if label == "car" else {}
    return {"type": "bbox", "label": label, "geometry": {"x": x, "y": 20, "w": 100, "h": 50},
            "attributes": attributes, **extra}


@pytest.fixture
def street(org_a, owner_a):
    """Three items (two in /train, one in /val) with a car box each, the street recipe linked."""
    dataset = DatasetFactory(organization=org_a, name="Streets")
    _recipe, recipe_version = published_recipe(org_a, owner_a.user, dataset=dataset)
    items = [ItemFactory(dataset=dataset, name=f"frame-{n}.jpg", folder="/train" if n < 2 else "/val",
                         metadata={"camera": "A", "n": n}) for n in range(3)]
    boxes = [annotations_change(org=org_a, actor=owner_a.user, item=item, create=[box(x=10 + n)]).created[0]
             for n, item in enumerate(items)]
    return SimpleNamespace(dataset=dataset, items=items, boxes=boxes, recipe_version=recipe_version)


def make_version(org, actor, dataset, message="First cut", filter=None) -> DatasetVersion:
    version = version_services.dataset_version_create(org=org, actor=actor, dataset=dataset, message=message,
                                                      filter=filter)
    build_dataset_version(org.pk, version.pk)
    version.refresh_from_db()
    return version


def table(version, section):
    blob = Blob.objects.get(pk=version.sections[section]["blob"])
    with blob_open(blob) as reader:
        return pq.read_table(reader)


class TestBuilding:
    def test_a_version_holds_the_items_annotations_and_recipe_versions_as_parquet(self, org_a, owner_a, street):
        version = make_version(org_a, owner_a.user, street.dataset)

        items = table(version, "items").to_pylist()
        annotations = table(version, "annotations").to_pylist()
        recipes = table(version, "recipe_versions").to_pylist()
        assert version.status == DatasetVersion.Status.READY
        assert (version.number, version.item_count, version.annotation_count) == (1, 3, 3)
        assert [row["id"] for row in items] == [item.pk for item in street.items]
        assert json.loads(items[1]["metadata"]) == {"camera": "A", "n": 1}
        assert (items[2]["name"], items[2]["folder"]) == ("frame-2.jpg", "/val")
        assert [(row["id"], row["item_id"], row["label"]) for row in annotations] == [
            (b.pk, b.item_id, "car") for b in street.boxes]
        assert json.loads(annotations[0]["geometry"]) == {"x": 10, "y": 20, "w": 100, "h": 50}
        assert json.loads(annotations[0]["attributes"])["colour"] == "red"
        assert annotations[0]["recipe_version_id"] == street.recipe_version.pk
        assert [(row["id"], row["checksum"]) for row in recipes] == [
            (street.recipe_version.pk, street.recipe_version.checksum)]

    def test_the_checksum_covers_every_section_file(self, org_a, owner_a, street):
        version = make_version(org_a, owner_a.user, street.dataset)

        assert set(version.sections) == {"items", "annotations", "recipe_versions"}
        assert version.checksum == version_services.manifest_checksum(version.sections)
        for entry in version.sections.values():
            assert Blob.objects.get(pk=entry["blob"]).sha256 == entry["sha256"]

    def test_making_and_building_are_audited(self, org_a, owner_a, street):
        version = make_version(org_a, owner_a.user, street.dataset)

        created = AuditEvent.objects.get(organization=org_a, action="dataset_version.created")
        built = AuditEvent.objects.get(organization=org_a, action="dataset_version.built")
        assert (created.actor_user_id, created.target_id) == (owner_a.user_id, str(version.pk))
        assert built.metadata["checksum"] == version.checksum

    def test_a_version_of_a_filtered_subset_holds_only_the_matching_items_and_their_annotations(
            self, org_a, owner_a, street):
        version = make_version(org_a, owner_a.user, street.dataset, filter={"folder": "/train"})

        assert [row["id"] for row in table(version, "items").to_pylist()] == [i.pk for i in street.items[:2]]
        assert {row["item_id"] for row in table(version, "annotations").to_pylist()} == {
            i.pk for i in street.items[:2]}
        assert version.filter == {"folder": "/train"}

    def test_model_suggestions_not_yet_accepted_are_left_out(self, org_a, owner_a, street):
        annotations_change(org=org_a, actor=owner_a.user, item=street.items[0],
                           create=[box(x=300, source="model", confidence=0.4)])
        from apps.annotations.models import Annotation

        Annotation.objects.filter(source="model").update(review_state="proposed")

        version = make_version(org_a, owner_a.user, street.dataset)

        assert version.annotation_count == 3

    def test_rows_stream_in_bounded_row_groups(self, org_a, owner_a, street, monkeypatch):
        monkeypatch.setattr(versions, "ITEM_BATCH", 2)
        monkeypatch.setattr(versions, "ROW_GROUP_ROWS", 2)

        version = make_version(org_a, owner_a.user, street.dataset)

        blob = Blob.objects.get(pk=version.sections["items"]["blob"])
        with blob_open(blob) as reader:
            parquet = pq.ParquetFile(reader)
            assert (parquet.num_row_groups, parquet.metadata.num_rows) == (2, 3)
            assert parquet.schema_arrow.metadata[b"dlsaas.section"] == b"items"

    @pytest.mark.django_db(transaction=True)
    def test_outside_any_transaction_the_build_reads_one_repeatable_read_snapshot(self, org_a, owner_a, street,
                                                                                   monkeypatch):
        from django.db import connection

        from apps.datasets import selectors

        seen = []
        real_filter = selectors.item_filter

        def spy(**kwargs):
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('transaction_isolation'),"
                               " current_setting('transaction_read_only')")
                seen.append(cursor.fetchone())
            return real_filter(**kwargs)

        monkeypatch.setattr(selectors, "item_filter", spy)

        version = make_version(org_a, owner_a.user, street.dataset)

        assert seen[-1] == ("repeatable read", "on")  # the build's read (the first one validated the request)
        assert (version.status, version.item_count, version.annotation_count) == ("ready", 3, 3)

    def test_a_bad_filter_is_refused_naming_its_path(self, org_a, owner_a, street, api_for):
        response = api_for(owner_a).post(f"/api/v1/datasets/{street.dataset.pk}/versions/",
                                         {"message": "Odd", "filter": {"size": {"$gt": "big"}}}, format="json")

        assert response.status_code == 400
        assert any(key.startswith("filter.size") for key in response.json()["errors"])
        assert not DatasetVersion.objects.exists()

    def test_a_second_version_waits_until_the_first_is_built(self, org_a, owner_a, street, api_for):
        client = api_for(owner_a)
        url = f"/api/v1/datasets/{street.dataset.pk}/versions/"
        first = client.post(url, {"message": "One"}, format="json")

        second = client.post(url, {"message": "Two"}, format="json")

        assert (first.status_code, first.json()["status"], first.json()["number"]) == (201, "building", 1)
        assert second.status_code == 409
        assert second["Content-Type"] == "application/problem+json"

    def test_building_again_changes_nothing(self, org_a, owner_a, street):
        version = make_version(org_a, owner_a.user, street.dataset)
        blobs = Blob.objects.count()

        build_dataset_version(org_a.pk, version.pk)

        version.refresh_from_db()
        assert Blob.objects.count() == blobs
        assert AuditEvent.objects.filter(action="dataset_version.built").count() == 1

    def test_a_failed_build_says_why_and_keeps_no_files(self, org_a, owner_a, street, monkeypatch):
        import apps.storage.services as storage_services

        real_put = storage_services.blob_put
        calls = []

        def put_then_fail(**kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise storage_services.StorageError("the eu backend is full")
            return real_put(**kwargs)

        monkeypatch.setattr(storage_services, "blob_put", put_then_fail)
        blobs = Blob.objects.count()

        version = make_version(org_a, owner_a.user, street.dataset)

        assert version.status == DatasetVersion.Status.FAILED
        assert "the eu backend is full" in version.error
        assert Blob.objects.count() == blobs
        assert AuditEvent.objects.filter(action="dataset_version.failed", target_id=str(version.pk)).exists()


class TestImmutability:
    def test_the_database_refuses_to_change_a_built_version(self, org_a, owner_a, street):
        version = make_version(org_a, owner_a.user, street.dataset)

        with pytest.raises(DatabaseError), transaction.atomic():
            DatasetVersion.objects.filter(pk=version.pk).update(message="rewritten history")

        version.refresh_from_db()
        assert version.message == "First cut"

    def test_a_failed_version_cannot_be_turned_ready(self, org_a, owner_a, street):
        version = DatasetVersion.objects.create(organization=org_a, dataset=street.dataset, number=1, message="x",
                                                status=DatasetVersion.Status.FAILED)

        with pytest.raises(DatabaseError), transaction.atomic():
            DatasetVersion.objects.filter(pk=version.pk).update(status=DatasetVersion.Status.READY)

    def test_erasing_the_author_still_works(self, org_a, owner_a, make_member, street):
        author = make_member(org_a, Role.MANAGER)
        version = make_version(org_a, author.user, street.dataset)

        author.user.delete()

        version.refresh_from_db()
        assert (version.created_by_id, version.status) == (None, DatasetVersion.Status.READY)

    def test_later_changes_to_the_dataset_leave_the_version_as_it_was(self, org_a, owner_a, street):
        version = make_version(org_a, owner_a.user, street.dataset)

        item_update(org=org_a, actor=owner_a.user, item=street.items[0], metadata_patch={"camera": "B"})

        assert json.loads(table(version, "items").to_pylist()[0]["metadata"])["camera"] == "A"


class TestDiff:
    @pytest.fixture
    def changed(self, org_a, owner_a, street):
        """Version 1; then an item added, one deleted, one retagged and one renamed; a box added, one relabelled,
        one deleted (with its item); then version 2."""
        actor = owner_a.user
        v1 = make_version(org_a, actor, street.dataset)
        first, second, third = street.items
        added = ItemFactory(dataset=street.dataset, name="frame-9.jpg", metadata={"camera": "C"})
        item_update(org=org_a, actor=actor, item=first, metadata_patch={"camera": "B"})
        item_update(org=org_a, actor=actor, item=second, name="renamed.jpg")
        new_box = annotations_change(org=org_a, actor=actor, item=added, create=[box("truck")]).created[0]
        relabelled = street.boxes[1]
        annotations_change(org=org_a, actor=actor, item=second,
                           update=[{"id": relabelled.pk, "version": relabelled.version, "label": "truck",
                                    "attributes": {}}])
        item_delete(org=org_a, actor=actor, item=Item.objects.get(pk=third.pk))
        v2 = make_version(org_a, actor, street.dataset, message="Second cut")
        return SimpleNamespace(v1=v1, v2=v2, added=added, first=first, second=second, third=third, new_box=new_box,
                               relabelled=relabelled, removed_box=street.boxes[2])

    def test_items_added_removed_and_changed_are_counted_and_named(self, org_a, owner_a, changed):
        diff = version_services.dataset_version_diff(org=org_a, actor=owner_a.user, version=changed.v2,
                                                     against=changed.v1)

        items = diff["sections"]["items"]
        assert (diff["from"]["number"], diff["to"]["number"]) == (1, 2)
        assert items["added"] == {"count": 1, "ids": [changed.added.pk]}
        assert items["removed"] == {"count": 1, "ids": [changed.third.pk]}
        assert (items["changed"]["count"], items["changed"]["ids"]) == (2, [changed.first.pk, changed.second.pk])
        assert items["changed"]["columns"] == {"name": 1, "folder": 0, "kind": 0, "metadata": 1, "sha256": 0}
        assert items["unchanged"] == 0

    def test_annotations_added_removed_and_changed_with_label_counts(self, org_a, owner_a, changed):
        diff = version_services.dataset_version_diff(org=org_a, actor=owner_a.user, version=changed.v2,
                                                     against=changed.v1)

        annotations = diff["sections"]["annotations"]
        assert annotations["added"] == {"count": 1, "ids": [changed.new_box.pk]}
        assert annotations["removed"] == {"count": 1, "ids": [changed.removed_box.pk]}
        assert annotations["changed"]["ids"] == [changed.relabelled.pk]
        assert annotations["changed"]["columns"]["label"] == 1
        assert annotations["unchanged"] == 1
        assert annotations["counts"]["values"] == [{"value": "car", "before": 3, "after": 1},
                                                   {"value": "truck", "before": 0, "after": 2}]

    def test_the_walk_gives_the_same_answer_a_row_group_at_a_time(self, org_a, owner_a, street, monkeypatch):
        monkeypatch.setattr(versions, "ITEM_BATCH", 2)
        monkeypatch.setattr(versions, "ROW_GROUP_ROWS", 1)
        actor = owner_a.user
        v1 = make_version(org_a, actor, street.dataset)
        extra = [ItemFactory(dataset=street.dataset, metadata={"n": n}) for n in range(4)]
        item_delete(org=org_a, actor=actor, item=Item.objects.get(pk=street.items[0].pk))
        item_update(org=org_a, actor=actor, item=extra[1], folder="/moved")
        v2 = make_version(org_a, actor, street.dataset, message="More")

        items = version_services.dataset_version_diff(org=org_a, actor=actor, version=v2, against=v1,
                                                      limit=2)["sections"]["items"]

        assert items["added"] == {"count": 4, "ids": [extra[0].pk, extra[1].pk]}
        assert items["removed"] == {"count": 1, "ids": [street.items[0].pk]}
        assert (items["changed"]["count"], items["unchanged"]) == (0, 2)

    def test_through_the_api_against_the_previous_version(self, owner_a, api_for, changed):
        response = api_for(owner_a).get(f"/api/v1/dataset-versions/{changed.v2.pk}/diff/?against={changed.v1.pk}")

        assert response.status_code == 200, response.content
        assert response.json()["sections"]["items"]["added"]["count"] == 1

    def test_versions_of_two_datasets_cannot_be_compared(self, org_a, owner_a, street, api_for):
        v1 = make_version(org_a, owner_a.user, street.dataset)
        other = DatasetFactory(organization=org_a)
        ItemFactory(dataset=other)
        v2 = make_version(org_a, owner_a.user, other)

        response = api_for(owner_a).get(f"/api/v1/dataset-versions/{v2.pk}/diff/?against={v1.pk}")

        assert response.status_code == 400
        assert "against" in response.json()["errors"]

    def test_a_version_still_building_cannot_be_compared(self, org_a, owner_a, street, api_for):
        v1 = make_version(org_a, owner_a.user, street.dataset)
        v2 = version_services.dataset_version_create(org=org_a, actor=owner_a.user, dataset=street.dataset,
                                                     message="Pending")

        response = api_for(owner_a).get(f"/api/v1/dataset-versions/{v2.pk}/diff/?against={v1.pk}")

        assert response.status_code == 409


class TestDownload:
    def test_the_zip_holds_every_section_and_a_manifest_and_is_audited(self, org_a, owner_a, street, api_for):
        version = make_version(org_a, owner_a.user, street.dataset)

        response = api_for(owner_a).get(f"/api/v1/dataset-versions/{version.pk}/download/")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        assert "attachment" in response["Content-Disposition"]
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        assert set(archive.namelist()) == {"version.json", "items.parquet", "annotations.parquet",
                                           "recipe_versions.parquet"}
        manifest = json.loads(archive.read("version.json"))
        assert (manifest["checksum"], manifest["version"]["number"]) == (version.checksum, 1)
        annotations = pq.read_table(io.BytesIO(archive.read("annotations.parquet")))
        assert annotations.num_rows == 3
        event = AuditEvent.objects.get(organization=org_a, action="dataset_version.downloaded")
        assert (event.actor_user_id, event.metadata["sections"]) == (
            owner_a.user_id, ["items", "annotations", "recipe_versions"])

    def test_one_section_downloads_as_its_parquet_file(self, org_a, owner_a, street, api_for):
        version = make_version(org_a, owner_a.user, street.dataset)

        response = api_for(owner_a).get(f"/api/v1/dataset-versions/{version.pk}/download/?section=items")

        body = b"".join(response.streaming_content)
        assert response.status_code == 200
        assert pq.read_table(io.BytesIO(body)).num_rows == 3
        assert AuditEvent.objects.get(action="dataset_version.downloaded").metadata["sections"] == ["items"]

    def test_an_unknown_section_is_a_400(self, org_a, owner_a, street, api_for):
        version = make_version(org_a, owner_a.user, street.dataset)

        response = api_for(owner_a).get(f"/api/v1/dataset-versions/{version.pk}/download/?section=secrets")

        assert response.status_code == 400
        assert "section" in response.json()["errors"]

    def test_an_annotator_granted_the_dataset_sees_versions_but_cannot_download_them(
            self, org_a, owner_a, make_member, street, api_for):
        from guardian.shortcuts import assign_perm

        version = make_version(org_a, owner_a.user, street.dataset)
        annotator = make_member(org_a, Role.ANNOTATOR)
        assign_perm("datasets.view_dataset_items", annotator.user, street.dataset)
        client = api_for(annotator)

        assert client.get(f"/api/v1/dataset-versions/{version.pk}/").status_code == 200
        assert client.get(f"/api/v1/dataset-versions/{version.pk}/download/").status_code == 403
        assert not AuditEvent.objects.filter(action="dataset_version.downloaded").exists()


class TestIsolation:
    def test_another_organisations_version_is_a_404_everywhere(self, org_a, owner_a, org_b, owner_b, street,
                                                               api_for):
        version = make_version(org_a, owner_a.user, street.dataset)
        client = api_for(owner_b)

        assert client.get(f"/api/v1/dataset-versions/{version.pk}/").status_code == 404
        assert client.get(f"/api/v1/dataset-versions/{version.pk}/download/").status_code == 404
        assert client.get(f"/api/v1/datasets/{street.dataset.pk}/versions/").status_code == 404
        assert client.post(f"/api/v1/datasets/{street.dataset.pk}/versions/", {"message": "mine now"},
                           format="json").status_code == 404
        assert DatasetVersion.objects.count() == 1

    def test_comparing_with_another_organisations_version_is_a_404(self, org_a, owner_a, org_b, owner_b, street,
                                                                   api_for):
        version = make_version(org_a, owner_a.user, street.dataset)
        theirs = DatasetFactory(organization=org_b)
        ItemFactory(dataset=theirs)
        own = make_version(org_b, owner_b.user, theirs)

        response = api_for(owner_b).get(f"/api/v1/dataset-versions/{own.pk}/diff/?against={version.pk}")

        assert response.status_code == 404

    def test_the_list_shows_only_the_datasets_own_versions(self, org_a, owner_a, street, api_for):
        version = make_version(org_a, owner_a.user, street.dataset)
        make_version(org_a, owner_a.user, DatasetFactory(organization=org_a))

        response = api_for(owner_a).get(f"/api/v1/datasets/{street.dataset.pk}/versions/")

        assert [v["id"] for v in response.json()["results"]] == [version.pk]


class TestPage:
    def test_the_versions_page_lists_versions_and_makes_one(self, org_a, owner_a, street):
        client = Client()
        client.force_login(owner_a.user)
        make_version(org_a, owner_a.user, street.dataset)

        listed = client.get(f"/o/acme/datasets/{street.dataset.pk}/versions/")
        made = client.post(f"/o/acme/datasets/{street.dataset.pk}/versions/", {"message": "<b>Second</b>"})

        assert listed.status_code == 200
        assert "First cut" in listed.content.decode()
        assert "Download (zip)" in listed.content.decode()
        assert made.status_code == 302
        assert DatasetVersion.objects.get(number=2).message == "<b>Second</b>"
        assert "&lt;b&gt;Second" in client.get(f"/o/acme/datasets/{street.dataset.pk}/versions/").content.decode()

    def test_the_page_shows_the_changes_since_the_previous_version(self, org_a, owner_a, street):
        client = Client()
        client.force_login(owner_a.user)
        make_version(org_a, owner_a.user, street.dataset)
        ItemFactory(dataset=street.dataset)
        v2 = make_version(org_a, owner_a.user, street.dataset, message="More")

        response = client.get(f"/o/acme/datasets/{street.dataset.pk}/versions/?diff={v2.pk}")

        assert response.status_code == 200
        assert "What changed from version 1 to version 2" in response.content.decode()
        assert "Annotations per label" in response.content.decode()

    def test_the_browser_links_to_the_versions(self, owner_a, street):
        client = Client()
        client.force_login(owner_a.user)

        response = client.get(f"/o/acme/datasets/{street.dataset.pk}/")

        assert f"/o/acme/datasets/{street.dataset.pk}/versions/" in response.content.decode()
