"""The dataset pages as a browser without JavaScript sees them: list, browser, saved filters, bulk actions
(uploads, imports and one item: test_item_pages.py)."""

import json
import re
from urllib.parse import urlencode

import pytest
from django.contrib.staticfiles import finders
from guardian.shortcuts import assign_perm

from apps.compliance.models import AuditEvent
from apps.datasets import services
from apps.datasets.models import Dataset, Item, SavedFilter
from apps.datasets.views import BROWSER_PAGE_SIZE
from apps.tenancy.roles import Role

from .factories import DatasetFactory, ItemFactory
from .pages import HOSTILE, signed_in

TILE = re.compile(r'<li class="tile" data-item-id="(\d+)"')


def tiles(response) -> list[int]:
    return [int(pk) for pk in TILE.findall(response.content.decode())]


def browse(client, dataset, **params):
    return client.get(f"/o/acme/datasets/{dataset.pk}/?{urlencode(params, doseq=True)}")


@pytest.fixture
def items_a(dataset_a):
    return [
        ItemFactory(dataset=dataset_a, name=name, folder=folder, size=size, metadata=metadata)
        for name, folder, size, metadata in [
            ("apple.png", "/", 100, {"camera": "A"}),
            ("banana.png", "/train", 2000, {"camera": "B"}),
            ("cherry.png", "/train/cats", 30000, {"camera": "A", "night": True}),
        ]
    ]


# --- Dataset list ----------------------------------------------------------------------------


class TestDatasetList:
    def test_the_list_shows_the_datasets_with_their_classification(self, dataset_a, manager_a):
        response = signed_in(manager_a).get("/o/acme/datasets/")

        assert response.status_code == 200
        assert b"Street scenes" in response.content and b"Personal data" in response.content
        assert f'href="/o/acme/datasets/{dataset_a.pk}/"'.encode() in response.content
        assert b"New dataset" in response.content

    def test_the_main_navigation_links_to_the_datasets(self, org_a, manager_a):
        response = signed_in(manager_a).get("/o/acme/")

        assert b'href="/o/acme/datasets/"' in response.content

    def test_an_annotator_sees_only_granted_datasets_and_no_form(self, org_a, owner_a, dataset_a, make_member):
        services.dataset_create(org=org_a, actor=owner_a.user, name="Secret faces")
        annotator = make_member(org_a, Role.ANNOTATOR)
        assign_perm("datasets.view_dataset_items", annotator.user, dataset_a)

        response = signed_in(annotator).get("/o/acme/datasets/")

        assert b"Street scenes" in response.content and b"Secret faces" not in response.content
        assert b"New dataset" not in response.content

    def test_a_compliance_officer_sees_that_datasets_exist_but_gets_no_link_into_them(
        self, org_a, dataset_a, make_member
    ):
        officer = make_member(org_a, Role.COMPLIANCE_OFFICER)

        response = signed_in(officer).get("/o/acme/datasets/")

        assert b"Street scenes" in response.content
        assert f"/o/acme/datasets/{dataset_a.pk}/".encode() not in response.content

    def test_a_manager_creates_a_dataset_with_the_form(self, org_a, manager_a):
        response = signed_in(manager_a).post("/o/acme/datasets/", {
            "name": "Dashcam", "description": "Front cameras", "classification": "health", "retention_days": "30",
        })

        dataset = Dataset.objects.get(organization=org_a, name="Dashcam")
        assert response.status_code == 302
        assert response["Location"] == f"/o/acme/datasets/{dataset.pk}/upload/"
        assert (dataset.classification, dataset.retention_days) == ("health", 30)
        assert AuditEvent.objects.filter(organization=org_a, action="dataset.created",
                                         target_id=str(dataset.pk)).exists()

    def test_a_duplicate_name_is_refused_in_words(self, org_a, dataset_a, manager_a):
        response = signed_in(manager_a).post("/o/acme/datasets/", {"name": "Street scenes", "classification": "public"})

        assert response.status_code == 400
        assert b"A dataset named &#x27;Street scenes&#x27; already exists." in response.content
        assert Dataset.objects.filter(organization=org_a).count() == 1

    def test_an_empty_name_is_refused_next_to_the_field(self, org_a, manager_a):
        response = signed_in(manager_a).post("/o/acme/datasets/", {"name": "", "classification": "public"})

        assert response.status_code == 400
        assert b"This field is required." in response.content

    def test_an_annotator_cannot_create_a_dataset(self, org_a, make_member):
        annotator = make_member(org_a, Role.ANNOTATOR)

        response = signed_in(annotator).post("/o/acme/datasets/", {"name": "Mine", "classification": "public"})

        assert response.status_code == 403
        assert not Dataset.objects.filter(organization=org_a, name="Mine").exists()

    def test_a_hostile_dataset_name_is_escaped(self, org_a, owner_a, manager_a):
        services.dataset_create(org=org_a, actor=owner_a.user, name=HOSTILE)

        response = signed_in(manager_a).get("/o/acme/datasets/")

        assert HOSTILE.encode() not in response.content
        assert b"&lt;img src=x onerror=alert(1)&gt;" in response.content


# --- Browser ---------------------------------------------------------------------------------


class TestBrowser:
    def test_the_first_page_is_rendered_on_the_server_with_tiles(self, dataset_a, items_a, manager_a):
        response = signed_in(manager_a).get(f"/o/acme/datasets/{dataset_a.pk}/")

        assert response.status_code == 200
        assert sorted(tiles(response)) == sorted(item.pk for item in items_a)
        assert b"3 items" in response.content
        assert b'id="load-more"' in response.content and b"hidden>Load more" in response.content

    def test_the_browser_scripts_exist_and_load_after_what_they_use(self, dataset_a, manager_a):
        response = signed_in(manager_a).get(f"/o/acme/datasets/{dataset_a.pk}/")

        scripts = re.findall(r'<script src="/static/([^"]+)" defer></script>', response.content.decode())
        assert scripts == ["js/dlsaas.js", "js/datasets/query.js", "js/datasets/builder-rows.js",
                           "js/datasets/tiles.js", "js/datasets/bulk.js", "js/datasets/browser.js"]
        assert [path for path in scripts if not finders.find(path)] == []

    def test_a_tile_without_thumbnail_shows_its_kind_and_one_with_a_thumbnail_its_image(
        self, org_a, dataset_a, manager_a
    ):
        item = ItemFactory(dataset=dataset_a, name="clip.mp4", kind=Item.Kind.VIDEO)

        response = signed_in(manager_a).get(f"/o/acme/datasets/{dataset_a.pk}/")

        assert f"/api/v1/items/{item.pk}/thumbnail/".encode() not in response.content
        assert b'<span class="tile-kind">Video</span>' in response.content

    def test_load_more_is_a_link_to_the_next_keyset_page(self, dataset_a, manager_a):
        ItemFactory.create_batch(BROWSER_PAGE_SIZE + 5, dataset=dataset_a)
        client = signed_in(manager_a)

        first = client.get(f"/o/acme/datasets/{dataset_a.pk}/")
        link = re.search(r'id="load-more" class="button button-secondary" href="([^"]+)"', first.content.decode())
        second = client.get(link.group(1).replace("&amp;", "&"))

        assert len(tiles(first)) == BROWSER_PAGE_SIZE
        assert second.status_code == 200 and len(tiles(second)) == 5
        assert not set(tiles(first)) & set(tiles(second))
        assert b"Back to the first page" in second.content

    def test_the_builder_rows_filter_without_javascript(self, dataset_a, items_a, manager_a):
        response = browse(signed_in(manager_a), dataset_a, apply="rows", f=["name", "size"], k=["", ""],
                          o=["contains", "gte"], v=["an", "1000"])

        assert tiles(response) == [items_a[1].pk]
        assert b"1 item" in response.content

    def test_a_json_filter_on_metadata_narrows_the_grid(self, dataset_a, items_a, manager_a):
        response = browse(signed_in(manager_a), dataset_a, filter=json.dumps({"metadata.camera": "A"}))

        assert sorted(tiles(response)) == sorted([items_a[0].pk, items_a[2].pk])

    def test_a_bad_filter_is_shown_in_words_naming_its_path(self, dataset_a, items_a, manager_a):
        response = browse(signed_in(manager_a), dataset_a, apply="rows", f="size", k="", o="gt", v="abc")

        assert response.status_code == 400
        assert b"filter.size.$gt: expected an integer, got &#x27;abc&#x27;" in response.content
        assert tiles(response) == []

    def test_a_filter_that_is_not_json_is_refused_in_words(self, dataset_a, manager_a):
        response = browse(signed_in(manager_a), dataset_a, filter="{not json")

        assert response.status_code == 400
        assert b"The filter is not valid JSON" in response.content

    def test_a_filter_the_rows_cannot_show_stays_in_the_json_box(self, dataset_a, items_a, manager_a):
        query = {"$or": [{"name": "apple.png"}, {"size": {"$gt": 20000}}]}

        response = browse(signed_in(manager_a), dataset_a, filter=json.dumps(query))

        assert sorted(tiles(response)) == sorted([items_a[0].pk, items_a[2].pk])
        assert b"more than the rows below can show" in response.content

    def test_the_folder_sidebar_lists_folders_and_narrows_to_one(self, dataset_a, items_a, manager_a):
        client = signed_in(manager_a)

        page = client.get(f"/o/acme/datasets/{dataset_a.pk}/")
        narrowed = browse(client, dataset_a, folder="/train")

        assert b'data-folder="/train/cats"' in page.content
        assert tiles(narrowed) == [items_a[1].pk]
        assert b"1 item in /train" in narrowed.content

    def test_sorting_by_size_orders_the_tiles(self, dataset_a, items_a, manager_a):
        response = browse(signed_in(manager_a), dataset_a, sort="-size")

        assert tiles(response) == [items_a[2].pk, items_a[1].pk, items_a[0].pk]

    def test_hostile_item_names_are_escaped_in_tiles(self, dataset_a, manager_a):
        ItemFactory(dataset=dataset_a, name=HOSTILE)

        response = signed_in(manager_a).get(f"/o/acme/datasets/{dataset_a.pk}/")

        assert HOSTILE.encode() not in response.content
        assert b"&lt;img src=x onerror=alert(1)&gt;" in response.content

    def test_listing_personal_data_is_audited(self, org_a, dataset_a, items_a, manager_a):
        signed_in(manager_a).get(f"/o/acme/datasets/{dataset_a.pk}/")

        event = AuditEvent.objects.get(organization=org_a, action="items.listed")
        assert sorted(event.metadata["item_ids"]) == sorted(item.pk for item in items_a)

    def test_another_organisations_dataset_is_not_found(self, org_b, owner_b, manager_a):
        theirs = services.dataset_create(org=org_b, actor=owner_b.user, name="Globex private")

        response = signed_in(manager_a).get(f"/o/acme/datasets/{theirs.pk}/")

        assert response.status_code == 404

    def test_an_annotator_without_a_grant_gets_not_found(self, org_a, dataset_a, make_member):
        annotator = make_member(org_a, Role.ANNOTATOR)

        response = signed_in(annotator).get(f"/o/acme/datasets/{dataset_a.pk}/")

        assert response.status_code == 404

    def test_an_annotator_granted_the_dataset_browses_it_without_change_controls(
        self, org_a, dataset_a, items_a, make_member
    ):
        annotator = make_member(org_a, Role.ANNOTATOR)
        assign_perm("datasets.view_dataset_items", annotator.user, dataset_a)

        response = signed_in(annotator).get(f"/o/acme/datasets/{dataset_a.pk}/")

        assert response.status_code == 200 and len(tiles(response)) == 3
        assert b'id="bulk-form"' not in response.content and b"Add items" not in response.content

    def test_the_api_accepts_the_cursor_the_page_rendered(self, dataset_a, manager_a):
        ItemFactory.create_batch(BROWSER_PAGE_SIZE + 2, dataset=dataset_a)
        client = signed_in(manager_a)
        page = client.get(f"/o/acme/datasets/{dataset_a.pk}/")
        state = json.loads(re.search(r'id="browser-state" type="application/json">(.*?)</script>',
                                     page.content.decode()).group(1))

        response = client.post(state["queryUrl"], {
            "filter": state["effectiveFilter"], "sort": state["sort"], "page_size": state["pageSize"],
            "cursor": state["nextCursor"], "count": False,
        }, content_type="application/json", headers={"X-CSRFToken": client.cookies["csrftoken"].value})

        assert response.status_code == 200, response.content
        assert len(response.json()["results"]) == 2


# --- Saved filters and bulk actions ------------------------------------------------------------


class TestSavedFilters:
    def test_a_saved_filter_is_listed_and_applies(self, org_a, dataset_a, items_a, manager_a):
        client = signed_in(manager_a)

        response = client.post(f"/o/acme/datasets/{dataset_a.pk}/saved-filters/", {
            "name": "Camera A", "filter": json.dumps({"metadata.camera": "A"}), "sort": "name",
        })
        saved = SavedFilter.objects.get(dataset=dataset_a, name="Camera A")
        page = client.get(response["Location"])

        assert response["Location"] == f"/o/acme/datasets/{dataset_a.pk}/?saved={saved.pk}"
        assert saved.sort == ["name"]
        assert tiles(page) == [items_a[0].pk, items_a[2].pk]
        assert b"Camera A" in page.content

    def test_a_saved_filter_with_a_bad_query_is_refused_in_words(self, dataset_a, manager_a):
        client = signed_in(manager_a)

        response = client.post(f"/o/acme/datasets/{dataset_a.pk}/saved-filters/", {
            "name": "Broken", "filter": json.dumps({"colour": "red"}),
        }, follow=True)

        assert b"The filter was not saved: filter.colour: unknown field &#x27;colour&#x27;" in response.content
        assert not SavedFilter.objects.filter(name="Broken").exists()

    def test_another_datasets_saved_filter_is_not_found_here(self, org_a, owner_a, dataset_a, manager_a):
        other = services.dataset_create(org=org_a, actor=owner_a.user, name="Other")
        saved = services.saved_filter_create(org=org_a, actor=owner_a.user, dataset=other, name="x", filter={},
                                             sort=[])

        response = signed_in(manager_a).get(f"/o/acme/datasets/{dataset_a.pk}/?saved={saved.pk}")

        assert response.status_code == 404

    def test_a_saved_filter_is_deleted(self, org_a, owner_a, dataset_a, manager_a):
        saved = services.saved_filter_create(org=org_a, actor=owner_a.user, dataset=dataset_a, name="x", filter={},
                                             sort=[])

        response = signed_in(manager_a).post(f"/o/acme/saved-filters/{saved.pk}/delete/")

        assert response.status_code == 302
        assert not SavedFilter.objects.filter(pk=saved.pk).exists()


class TestBulk:
    def test_selected_items_are_moved_to_a_folder(self, dataset_a, items_a, manager_a):
        back = "?" + urlencode({"filter": '{"name":{"$contains":"a"}}'})

        response = signed_in(manager_a).post(f"/o/acme/datasets/{dataset_a.pk}/bulk/", {
            "target": "selected", "item": [items_a[0].pk, items_a[1].pk], "action": "move", "to_folder": "/val",
            "back": back,
        })

        assert response.status_code == 302
        assert response["Location"] == f"/o/acme/datasets/{dataset_a.pk}/{back}"
        assert [Item.objects.get(pk=item.pk).folder for item in items_a] == ["/val", "/val", "/train/cats"]

    def test_items_of_another_dataset_are_never_touched_by_a_selection(
        self, org_a, owner_a, dataset_a, items_a, manager_a
    ):
        other = ItemFactory(dataset=DatasetFactory(organization=org_a, name="Other"), folder="/")

        signed_in(manager_a).post(f"/o/acme/datasets/{dataset_a.pk}/bulk/", {
            "target": "selected", "item": [other.pk, items_a[0].pk], "action": "move", "to_folder": "/val",
        })

        assert Item.objects.get(pk=other.pk).folder == "/"
        assert Item.objects.get(pk=items_a[0].pk).folder == "/val"

    def test_a_metadata_key_is_set_on_every_item_matching_the_filter(self, dataset_a, items_a, manager_a):
        signed_in(manager_a).post(f"/o/acme/datasets/{dataset_a.pk}/bulk/", {
            "target": "matching", "filter": json.dumps({"metadata.camera": "A"}), "action": "set_metadata",
            "meta_key": "reviewed", "meta_value": "true",
        })

        assert [Item.objects.get(pk=item.pk).metadata.get("reviewed") for item in items_a] == [True, None, True]

    def test_deleting_asks_for_confirmation_first(self, dataset_a, items_a, manager_a):
        client = signed_in(manager_a)
        data = {"target": "selected", "item": [items_a[0].pk], "action": "delete"}

        asked = client.post(f"/o/acme/datasets/{dataset_a.pk}/bulk/", data)
        still_there = Item.objects.filter(pk=items_a[0].pk).exists()
        done = client.post(f"/o/acme/datasets/{dataset_a.pk}/bulk/", {**data, "confirm": "1"}, follow=True)

        assert asked.status_code == 200 and b"Delete 1 selected item from Street scenes?" in asked.content
        assert still_there
        assert not Item.objects.filter(pk=items_a[0].pk).exists()
        assert b"Deleted 1 item." in done.content

    def test_every_item_matching_the_filter_is_deleted_after_confirmation(self, dataset_a, items_a, manager_a):
        client = signed_in(manager_a)
        data = {"target": "matching", "filter": json.dumps({"folder": {"$contains": "train"}}), "action": "delete"}

        asked = client.post(f"/o/acme/datasets/{dataset_a.pk}/bulk/", data)
        done = client.post(f"/o/acme/datasets/{dataset_a.pk}/bulk/", {**data, "confirm": "1"}, follow=True)

        assert b"Delete 2 items matching the filter from Street scenes?" in asked.content
        assert list(Item.objects.filter(dataset=dataset_a)) == [items_a[0]]
        assert b"Deleted 2 items." in done.content

    def test_a_bulk_action_without_a_selection_says_what_is_missing(self, dataset_a, items_a, manager_a):
        response = signed_in(manager_a).post(f"/o/acme/datasets/{dataset_a.pk}/bulk/", {
            "target": "selected", "action": "move", "to_folder": "/val",
        }, follow=True)

        assert b"Select at least one item, or choose all items matching the filter." in response.content

    def test_an_annotator_granted_only_viewing_cannot_change_items(self, org_a, dataset_a, items_a, make_member):
        annotator = make_member(org_a, Role.ANNOTATOR)
        assign_perm("datasets.view_dataset_items", annotator.user, dataset_a)

        response = signed_in(annotator).post(f"/o/acme/datasets/{dataset_a.pk}/bulk/", {
            "target": "matching", "action": "delete", "confirm": "1",
        })

        assert response.status_code == 404
        assert Item.objects.filter(dataset=dataset_a).count() == 3
