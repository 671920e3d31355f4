"""A model version's suggestions in the studio: an owner accepts one and rejects another, and the version's
agreement (API and model page) counts one accepted and one rejected."""

import pytest
from playwright.sync_api import expect

from apps.annotations.models import Annotation
from apps.automation.services import preannotation_replace
from apps.datasets.intake import items_upload
from apps.tenancy.roles import Role
from tests.automation.factories import TEXT_SPEC, registered_classifier
from tests.datasets.factories import DatasetFactory
from tests.e2e.test_studio import open_studio, sign_in, street_image
from tests.recipes.factories import published_recipe

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def storage_roots(settings, tmp_path):
    settings.STORAGE_ROOTS = {"eu": tmp_path / "eu", "us": tmp_path / "us"}


def test_accepting_one_suggestion_and_rejecting_another_shows_in_the_versions_agreement(
        live_server, new_page, org_a, make_member):
    owner = make_member(org_a, Role.OWNER, email="olga.owner@example.test")
    dataset = DatasetFactory(organization=org_a, name="Streets")
    _recipe, recipe_version = published_recipe(org_a, owner.user, name="Things", spec=TEXT_SPEC, dataset=dataset)
    item = items_upload(org=org_a, actor=owner.user, dataset=dataset, files=[street_image()])[0]
    version = registered_classifier(org_a, owner.user, recipe_version=recipe_version, name="Street detector")
    model = {"source": "model", "review_state": "proposed", "confidence": 0.9}
    preannotation_replace(org=org_a, actor=owner.user, item=item, model_version=version, annotations=[
        {"type": "bbox", "label": "car", "geometry": {"x": 100, "y": 100, "w": 200, "h": 120}, **model},
        {"type": "bbox", "label": "person", "geometry": {"x": 400, "y": 300, "w": 50, "h": 50}, **model},
    ])
    car = Annotation.objects.get(item=item, label="car")
    person = Annotation.objects.get(item=item, label="person")
    page = new_page(live_server.url)
    sign_in(page, owner.user.email)
    open_studio(page, item)

    page.get_by_role("button", name=f"Accept car box #{car.pk}").click()
    page.get_by_role("button", name=f"Reject person box #{person.pk}").click()
    expect(page.locator("#proposal-list .layer-row")).to_have_count(0)
    expect(page.locator("#save-status")).to_have_text("All changes saved")

    answer = page.request.get(f"/api/v1/model-versions/{version.pk}/agreement/")
    assert answer.status == 200
    figures = answer.json()
    assert (figures["counts"]["accepted"], figures["counts"]["rejected"], figures["counts"]["open"]) == (1, 1, 0)
    assert figures["acceptance_rate"] == 0.5

    page.goto(f"/o/acme/models/{version.model_id}/")
    table = page.locator("#agreement-table")
    expect(table.locator('td[data-figure="accepted"]')).to_have_text("1")
    expect(table.locator('td[data-figure="rejected"]')).to_have_text("1")
    expect(table.locator('td[data-figure="precision"]')).to_have_text("0.50")
    assert page.errors == []
