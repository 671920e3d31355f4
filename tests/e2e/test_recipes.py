"""A manager builds a recipe in the editor, publishes it, renames a label, publishes again with a rename, previews
what that does to existing annotations and applies it, in headless Chromium."""

import re
import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from apps.annotations.models import Annotation, LabelMigrationRun
from apps.annotations.services import annotations_change
from apps.annotations.tasks import migrate_labels
from apps.datasets.services import dataset_create
from apps.recipes.models import DatasetRecipe, Recipe, RecipeVersion
from apps.recipes.services import recipe_publish, recipe_update
from apps.tenancy.context import TenantState, set_state
from apps.tenancy.roles import Role
from tests import processes
from tests.datasets.factories import ItemFactory
from tests.e2e.pages import sign_in
from tests.recipes.factories import published_recipe, street_spec

pytestmark = pytest.mark.e2e


def in_worker_thread(fn, *args):
    """Runs a worker actor outside Playwright's event loop thread, so its on-commit broadcasts can be sent."""

    def call():
        set_state(TenantState(bypass=True))
        try:
            fn(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(60)


def test_a_manager_builds_publishes_and_migrates_a_recipe(live_server, new_page, org_a, owner_a, make_member):
    manager = make_member(org_a, Role.MANAGER, email="rosa.recipes@example.test")
    dataset = dataset_create(org=org_a, actor=owner_a.user, name="Streets")
    items = [ItemFactory(dataset=dataset, width=640, height=480) for _ in range(2)]
    page = new_page(live_server.url)
    sign_in(page, manager.user.email)

    # She creates a recipe from the list page; its editor opens.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Recipes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Recipes")
    page.get_by_label("Name").first.fill("Street <i>scenes</i>")
    page.get_by_role("button", name="Create recipe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Street <i>scenes</i>")
    expect(page.locator("#recipe-editor")).to_be_visible()
    expect(page.locator("#recipe-summary")).to_be_hidden()
    recipe = Recipe.objects.get(organization=org_a)

    # Two labels with hotkeys; the first has an enum attribute. The second hotkey clashes at first.
    page.get_by_role("button", name="Add label").click()
    expect(page.get_by_label("Name of label 1")).to_be_focused()
    page.get_by_label("Name of label 1").fill("car")
    page.get_by_label("Hotkey of label 1").fill("1")
    page.get_by_role("button", name="Add attribute to label 1").click()
    page.get_by_label("Name of attribute 1 of label 1").fill("colour")
    expect(page.get_by_label("Type of attribute 1 of label 1")).to_have_value("enum")
    page.get_by_label("Options of attribute 1 of label 1").fill("red, blue, other")
    page.get_by_role("button", name="Add label").click()
    page.get_by_label("Name of label 2").fill("truck")
    page.get_by_label("Hotkey of label 2").fill("1")
    expect(page.locator("#save-status")).to_have_text("Unsaved changes.")
    page.get_by_role("button", name="Save draft").click()

    # The server's error shows next to the second label's hotkey, and in the list above.
    hotkey = page.get_by_label("Hotkey of label 2")
    expect(hotkey).to_have_attribute("aria-invalid", "true")
    error_id = hotkey.get_attribute("aria-describedby")
    expect(page.locator(f"#{error_id}")).to_have_text("Hotkey '1' is already 'car'.")
    expect(page.locator("#save-errors")).to_contain_text(
        "Label 2 \u201ctruck\u201d, hotkey: Hotkey '1' is already 'car'.")
    page.screenshot(path="/tmp/recipes-editor-error.png", full_page=True)
    hotkey.fill("2")
    page.keyboard.press("Control+s")
    expect(page.locator("#save-status")).to_contain_text("Saved at")
    expect(page.locator("#save-errors")).to_be_hidden()
    recipe.refresh_from_db()
    assert [(lab["name"], lab["hotkey"]) for lab in recipe.draft["labels"]] == [("car", "1"), ("truck", "2")]
    assert recipe.draft["labels"][0]["attributes"] == [
        {"name": "colour", "type": "enum", "required": False, "options": ["red", "blue", "other"]}]

    # The draft as JSON shows what the editor holds.
    page.get_by_text("Advanced: the draft as JSON").click()
    expect(page.get_by_label("Recipe (JSON)")).to_have_value(
        re.compile(r'"name": "truck",\s+"color": "#f28e2b",\s+"hotkey": "2"'))

    # A third label drawn as a keypoint skeleton, instructions in rich text, and review settings.
    page.get_by_role("button", name="Add label").click()
    page.get_by_label("Name of label 3").fill("person")
    page.locator("tbody.label-block").nth(2).get_by_label("Keypoints").check()
    page.get_by_role("button", name="Add point to label 3").click()
    expect(page.get_by_label("Point 1 of label 3", exact=True)).to_be_focused()
    page.keyboard.type("head")
    page.get_by_role("button", name="Add point to label 3").click()
    page.keyboard.type("hand")
    page.get_by_role("button", name="Add edge to label 3").click()
    expect(page.get_by_label("To of edge 1 of label 3")).to_have_value("1")
    expect(page.get_by_label("To of edge 1 of label 3").locator("option:checked")).to_have_text("2. hand")
    page.get_by_label("Parent of label 3").select_option("car")
    page.locator("#instructions-editor").click()
    page.keyboard.type("Box every ")
    page.get_by_role("button", name="Bold").click()
    page.keyboard.type("car")
    page.get_by_label("Work must be reviewed").check()
    page.get_by_label("Share of the work to review").fill("0.5")
    page.get_by_label("Reasons a reviewer can give to reject").fill("Loose box\nWrong label")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#save-status")).to_contain_text("Saved at")
    recipe.refresh_from_db()
    person = recipe.draft["labels"][2]
    assert (person["parent"], person["skeleton"]) == ("car", {"points": ["head", "hand"], "edges": [[0, 1]]})
    assert "keypoints" in person["tools"]
    assert recipe.draft["instructions"] == "Box every <b>car</b>"
    assert recipe.draft["review"] == {
        "required": True, "sample_ratio": 0.5, "reject_reasons": ["Loose box", "Wrong label"]}

    # Version 1.
    page.get_by_label("Message").fill("First version")
    page.get_by_role("button", name="Publish version 1").click()
    expect(page.locator("#publish-status")).to_have_text("Version 1 was published.")
    expect(page.locator("#versions-table tbody tr")).to_have_count(1)
    expect(page.locator("#versions-table tbody tr").first).to_contain_text("v1")
    expect(page.locator("#versions-table tbody tr").first).to_contain_text("First version")
    expect(page.locator("#migration-panel")).to_be_hidden()

    # She makes the dataset use it; annotations are drawn with version 1.
    page.get_by_label("Use for dataset").select_option(label="Streets")
    page.get_by_role("button", name="Set", exact=True).click()
    expect(page.get_by_role("status").first).to_have_text("The dataset Streets now uses Street <i>scenes</i>.")
    expect(page.locator("#datasets-using")).to_have_text("Streets")
    assert DatasetRecipe.objects.get(dataset=dataset).recipe_id == recipe.pk
    for item, labels in zip(items, [("car", "truck"), ("truck",)], strict=True):
        annotations_change(org=org_a, actor=owner_a.user, item=item, create=[
            {"type": "bbox", "label": label, "geometry": {"x": 10 * i, "y": 10, "w": 50, "h": 40},
             "attributes": {"colour": "red"} if label == "car" else {}}
            for i, label in enumerate(labels)])

    # She renames truck to lorry: the diff sees it, and the builder proposes a rename.
    page.get_by_label("Name of label 2").fill("lorry")
    diff = page.locator("#label-diff")
    expect(diff).to_contain_text("Added: lorry")
    expect(diff).to_contain_text("Removed: truck")
    expect(diff).to_contain_text("Perhaps renamed: truck \u2192 lorry")
    expect(page.get_by_label("What happens to truck")).to_have_value("rename")
    expect(page.get_by_label("New name of truck")).to_have_value("lorry")

    # Without a choice the server refuses, saying why next to the builder.
    page.get_by_label("What happens to truck").select_option(label="Choose\u2026")
    page.get_by_role("button", name="Publish version 2").click()
    expect(page.locator("#publish-errors")).to_contain_text(
        "Label 'truck' is not in the new version: rename, merge, split or delete it.")
    expect(page.locator("#migration-builder .path-error")).to_have_text(
        "Label 'truck' is not in the new version: rename, merge, split or delete it.")
    assert RecipeVersion.objects.filter(recipe=recipe).count() == 1

    page.get_by_label("What happens to truck").select_option(label="Rename to")
    page.get_by_label("New name of truck").select_option("lorry")
    page.get_by_label("Message").fill("Trucks are lorries")
    page.get_by_role("button", name="Publish version 2").click()
    expect(page.locator("#publish-status")).to_have_text("Version 2 was published.")
    version = RecipeVersion.objects.get(recipe=recipe, number=2)
    assert version.migration == [{"op": "rename", "from": "truck", "to": "lorry"}]
    expect(page.locator("#versions-table tbody tr").first).to_contain_text("Trucks are lorries")
    expect(page.locator("#versions-table tbody tr").first).to_contain_text("1 operation")

    # The preview says what applying version 2 does to the three annotations.
    expect(page.locator("#preview-summary")).to_have_text(
        "3 annotations were made with earlier versions. Applying version 2 to them:")
    changes = page.locator("#preview-changes li")
    expect(changes).to_have_text(["truck \u2192 lorry: 2 annotations relabelled", "1 annotation keeps its label"])
    page.screenshot(path="/tmp/recipes-preview.png", full_page=True)
    assert sorted(Annotation.objects.values_list("label", flat=True)) == ["car", "truck", "truck"]

    # She applies it; the worker runs it; the page follows it to "Done" (live_server has no websockets: it polls).
    page.get_by_role("button", name="Apply to existing annotations").click()
    status = page.locator("#migration-status")
    expect(status).to_have_text("Queued: 0 of 3 annotations.")
    run = LabelMigrationRun.objects.get(recipe=recipe)
    in_worker_thread(migrate_labels.fn, org_a.pk, run.pk)
    expect(status).to_have_text("Done: 3 annotations moved to version 2 (2 relabelled, 0 deleted).")
    expect(page.locator("#migration-progress")).to_have_attribute("data-live", "polling")
    page.screenshot(path="/tmp/recipes-migrated.png", full_page=True)
    assert sorted(Annotation.objects.values_list("label", "recipe_version__number")) == [
        ("car", 2), ("lorry", 2), ("lorry", 2)]

    # Export links point at each version and at the draft.
    expect(page.locator("#versions-table tbody tr").first.get_by_role("link")).to_have_attribute(
        "href", f"/api/v1/recipes/{recipe.pk}/export/?version=2")
    assert page.errors == []


@pytest.fixture
def asgi_server(transactional_db, tmp_path):
    with processes.asgi_server(tmp_path / "daphne.log") as host:
        yield f"http://{host}"


@pytest.mark.slow
def test_migration_progress_arrives_over_the_websocket(asgi_server, new_page, org_a, owner_a, make_member):
    manager = make_member(org_a, Role.MANAGER, email="remi.recipes@example.test")
    dataset = dataset_create(org=org_a, actor=owner_a.user, name="Streets")
    recipe, _v1 = published_recipe(org_a, owner_a.user, dataset=dataset)
    item = ItemFactory(dataset=dataset, width=640, height=480)
    annotations_change(org=org_a, actor=owner_a.user, item=item, create=[
        {"type": "bbox", "label": "truck", "geometry": {"x": 1, "y": 1, "w": 5, "h": 5}}])
    spec = street_spec()
    spec["labels"].pop(1)
    recipe_update(org=org_a, actor=owner_a.user, recipe=recipe, spec=spec)
    recipe_publish(org=org_a, actor=owner_a.user, recipe=recipe, migration=[{"op": "delete", "label": "truck"}])
    page = new_page(asgi_server)
    sign_in(page, manager.user.email)

    # The page says at once that an earlier version's annotations are waiting for version 2.
    page.goto(f"/o/acme/recipes/{recipe.pk}/")
    expect(page.locator("#preview-changes li")).to_have_text(
        ["truck: 1 annotation deleted", "0 annotations keep their label"])
    page.get_by_role("button", name="Apply to existing annotations").click()
    progress = page.locator("#migration-progress")
    expect(progress).to_have_attribute("data-live", "connected")
    run = LabelMigrationRun.objects.get(recipe=recipe)
    in_worker_thread(migrate_labels.fn, org_a.pk, run.pk)

    expect(page.locator("#migration-status")).to_have_text(
        "Done: 1 annotation moved to version 2 (0 relabelled, 1 deleted).")
    expect(progress).to_have_attribute("data-live", "connected")
    assert not Annotation.objects.filter(item=item).exists()
    assert page.errors == []
