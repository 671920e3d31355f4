"""The studio page as the server renders it: who may open it, in which mode, what it hands the editor, and the
audit event that opening an item leaves."""

import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from guardian.shortcuts import assign_perm
from PIL import Image

from apps.compliance.models import AuditEvent
from apps.datasets.intake import items_upload
from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory, ItemFactory

HOSTILE = "<img src=x onerror=alert(1)>.png"
DATA = re.compile(r'<script id="studio-data" type="application/json">(.*?)</script>', re.S)


@pytest.fixture(autouse=True)
def storage_roots(settings, tmp_path):
    settings.STORAGE_ROOTS = {"eu": tmp_path / "eu", "us": tmp_path / "us"}


def png(width=64, height=48) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 200)).save(buffer, format="PNG")
    return SimpleUploadedFile("frame.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def images(org_a, owner_a, street):
    """Two uploaded images (real content) in the street dataset, after its bare 640x480 item."""
    first = items_upload(org=org_a, actor=owner_a.user, dataset=street["dataset"], files=[png()])[0]
    second = items_upload(org=org_a, actor=owner_a.user, dataset=street["dataset"], files=[png(32, 24)])[0]
    return first, second


def signed_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def studio_url(item, slug="acme") -> str:
    return f"/o/{slug}/items/{item.pk}/annotate/"


def studio_data(response) -> dict:
    match = DATA.search(response.content.decode())
    assert match, "the page carries no studio data"
    return json.loads(match.group(1))


def test_the_owner_gets_the_editor_with_the_item_recipe_and_next_item(owner_a, street, images):
    first, second = images

    response = signed_in(owner_a).get(studio_url(first))

    assert response.status_code == 200
    data = studio_data(response)
    assert data["item"]["id"] == first.pk
    assert (data["item"]["width"], data["item"]["height"]) == (64, 48)
    assert data["item"]["content_url"] == f"/api/v1/items/{first.pk}/content/"
    assert data["item"]["changes_url"] == f"/api/v1/items/{first.pk}/annotations/changes/"
    assert data["recipe_version"]["id"] == street["version"].pk
    assert [label["name"] for label in data["recipe_version"]["spec"]["labels"]] == ["car", "truck", "person"]
    assert data["next_item"]["id"] == second.pk
    assert data["can_edit"] is True
    body = response.content.decode()
    assert 'data-tool="bbox"' in body and 'data-tool="keypoints"' in body and 'data-tool="brush"' in body
    assert 'data-label-choice="car"' in body
    assert f'href="{studio_url(second)}"' in body and ">Next item<" in body


def test_the_last_item_offers_no_next_item(owner_a, images):
    response = signed_in(owner_a).get(studio_url(images[1]))

    assert studio_data(response)["next_item"] is None
    assert "Last item of the dataset" in response.content.decode()


def test_opening_an_item_in_the_studio_is_audited(owner_a, images):
    signed_in(owner_a).get(studio_url(images[0]))

    event = AuditEvent.objects.filter(action="item.viewed", target_id=str(images[0].pk)).get()
    assert event.actor_user_id == owner_a.user_id
    assert event.metadata["via"] == "studio"
    assert event.metadata["dataset_id"] == images[0].dataset_id


def test_another_organisations_item_is_not_found(owner_a, org_b):
    other = ItemFactory(dataset=DatasetFactory(organization=org_b))

    response = signed_in(owner_a).get(studio_url(other))

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="item.viewed", target_id=str(other.pk)).exists()


def test_an_annotator_without_a_grant_gets_not_found(org_a, make_member, images):
    annotator = make_member(org_a, Role.ANNOTATOR)

    response = signed_in(annotator).get(studio_url(images[0]))

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="item.viewed", target_id=str(images[0].pk)).exists()


def test_a_view_only_grant_opens_the_studio_read_only(org_a, make_member, street, images):
    annotator = make_member(org_a, Role.ANNOTATOR)
    assign_perm("datasets.view_dataset_items", annotator.user, street["dataset"])

    response = signed_in(annotator).get(studio_url(images[0]))

    assert response.status_code == 200
    data = studio_data(response)
    assert data["can_edit"] is False
    body = response.content.decode()
    assert "Read only" in body
    assert 'data-tool="select"' in body and 'data-tool="bbox"' not in body
    assert 'id="undo"' not in body


def test_a_change_grant_opens_the_studio_for_editing(org_a, make_member, street, images):
    annotator = make_member(org_a, Role.ANNOTATOR)
    assign_perm("datasets.view_dataset_items", annotator.user, street["dataset"])
    assign_perm("datasets.change_dataset_items", annotator.user, street["dataset"])

    response = signed_in(annotator).get(studio_url(images[0]))

    assert studio_data(response)["can_edit"] is True


def test_an_item_without_content_says_so_instead_of_an_editor(owner_a, street):
    response = signed_in(owner_a).get(studio_url(street["item"]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "has no content yet" in body
    assert 'id="studio-data"' not in body


def test_a_dataset_without_a_recipe_says_so(org_a, owner_a):
    dataset = DatasetFactory(organization=org_a, name="Unlabelled")
    item = items_upload(org=org_a, actor=owner_a.user, dataset=dataset, files=[png()])[0]

    response = signed_in(owner_a).get(studio_url(item))

    assert response.status_code == 200
    assert "has no published recipe yet" in response.content.decode()


def test_names_are_escaped_in_the_page_and_in_the_studio_data(org_a, owner_a, street):
    upload = png()
    upload.name = HOSTILE
    item = items_upload(org=org_a, actor=owner_a.user, dataset=street["dataset"], files=[upload])[0]
    assert item.name == HOSTILE

    response = signed_in(owner_a).get(studio_url(item))

    body = response.content.decode()
    assert HOSTILE not in body and "&lt;img src=x" in body
    assert studio_data(response)["item"]["name"] == item.name


def test_the_item_page_links_to_the_studio(owner_a, images):
    response = signed_in(owner_a).get(f"/o/acme/items/{images[0].pk}/")

    assert f'href="{studio_url(images[0])}"' in response.content.decode()
