"""The annotation studio in headless Chromium: an owner draws a box, a polygon and a keypoint skeleton, autosave
stores them, and after a reload they are listed again; model suggestions are accepted or rejected."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from apps.annotations.models import Annotation
from apps.annotations.services import annotations_change
from apps.datasets.intake import items_upload
from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory
from tests.e2e.pages import sign_in
from tests.recipes.factories import published_recipe

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def storage_roots(settings, tmp_path):
    settings.STORAGE_ROOTS = {"eu": tmp_path / "eu", "us": tmp_path / "us"}


def street_image(width=800, height=600) -> SimpleUploadedFile:
    image = Image.new("RGB", (width, height), (70, 80, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((100, 100, 300, 220), fill=(200, 40, 40))
    draw.polygon([(450, 120), (650, 140), (620, 320), (470, 300)], fill=(40, 80, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return SimpleUploadedFile("street.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def scene(org_a, make_member):
    owner = make_member(org_a, Role.OWNER, email="olga.owner@example.test")
    dataset = DatasetFactory(organization=org_a, name="Streets")
    _recipe, version = published_recipe(org_a, owner.user, dataset=dataset)
    item = items_upload(org=org_a, actor=owner.user, dataset=dataset, files=[street_image()])[0]
    return {"owner": owner, "dataset": dataset, "version": version, "item": item}


def open_studio(page, item):
    page.goto(f"/o/acme/items/{item.pk}/annotate/")
    expect(page.locator("#studio-editor")).to_have_attribute("data-ready", "true")


def at(page, x, y):
    """The page position of image pixel (x, y) at the studio's current zoom."""
    return page.evaluate(
        """([x, y]) => {
            const r = window.__studio.renderer, rect = r.overlayCanvas.getBoundingClientRect();
            const [sx, sy] = r.toScreen(x, y);
            return [rect.left + sx, rect.top + sy];
        }""",
        [x, y],
    )


def drag(page, start, end):
    page.mouse.move(*at(page, *start))
    page.mouse.down()
    page.mouse.move(*at(page, *end), steps=8)
    page.mouse.up()


def click(page, x, y):
    page.mouse.click(*at(page, x, y))


def group(page, label):
    return page.locator(f'#object-groups .layer-group[data-label="{label}"] .layer-row')


def test_an_owner_draws_a_box_a_polygon_and_a_skeleton_and_sees_them_after_a_reload(live_server, new_page, scene):
    page = new_page(live_server.url)
    sign_in(page, scene["owner"].user.email)

    # She opens the item and follows the Annotate link into the studio.
    page.goto(f"/o/acme/items/{scene['item'].pk}/")
    page.get_by_role("link", name="Annotate").click()
    expect(page.locator("#studio-editor")).to_have_attribute("data-ready", "true")
    expect(page.get_by_role("heading", level=1)).to_have_text("Annotate street.png")
    expect(page.locator("#save-status")).to_have_text("All changes saved")

    # A car box: label by hotkey, the box tool, a drag; its required colour is missing, and the studio says so.
    page.locator("#stage canvas.stage-overlay").focus()
    page.keyboard.press("1")
    expect(page.locator("#current-label")).to_have_text("car")
    page.locator('[data-tool="bbox"]').click()
    drag(page, (100, 100), (300, 220))
    expect(group(page, "car")).to_have_count(1)
    expect(page.locator("#save-status")).to_contain_text("Not saved: car box (new): colour is required.")
    page.get_by_label("colour").select_option("red")
    expect(page.locator("#save-status")).to_have_text("All changes saved")

    # A truck polygon: four clicks, then Enter.
    page.locator('[data-label-choice="truck"]').click()
    page.locator('[data-tool="polygon"]').click()
    for x, y in [(450, 120), (650, 140), (620, 320), (470, 300)]:
        click(page, x, y)
    page.keyboard.press("Enter")
    expect(group(page, "truck")).to_have_count(1)

    # A person skeleton: the skeleton's three points in order (head, left hand, right hand).
    page.keyboard.press("3")
    page.locator('[data-tool="keypoints"]').click()
    expect(page.locator("#tool-hint")).to_contain_text("Click to place head (1 of 3)")
    for x, y in [(700, 100), (660, 200), (740, 200)]:
        click(page, x, y)
    expect(group(page, "person")).to_have_count(1)
    expect(page.locator("#save-status")).to_have_text("All changes saved", timeout=15_000)

    stored = {a.type: a for a in Annotation.objects.filter(item=scene["item"])}
    assert set(stored) == {"bbox", "polygon", "keypoints"}
    box = stored["bbox"]
    assert (box.label, box.attributes["colour"], box.recipe_version_id) == ("car", "red", scene["version"].pk)
    assert [round(box.geometry[k]) for k in ("x", "y", "w", "h")] == [100, 100, 200, 120]
    assert stored["polygon"].label == "truck" and len(stored["polygon"].geometry["exterior"]) == 4
    assert [p[2] for p in stored["keypoints"].geometry["points"]] == [2, 2, 2]
    assert round(stored["keypoints"].geometry["points"][0][0]) == 700

    # After a reload the three are listed again, by their saved ids.
    page.reload()
    expect(page.locator("#studio-editor")).to_have_attribute("data-ready", "true")
    expect(group(page, "car").locator(".layer-select")).to_have_text(f"Box #{box.pk}")
    expect(group(page, "truck").locator(".layer-select")).to_have_text(f"Polygon #{stored['polygon'].pk}")
    expect(group(page, "person").locator(".layer-select")).to_have_text(f"Skeleton #{stored['keypoints'].pk}")

    page.screenshot(path="/tmp/studio-reloaded.png")

    # Selecting the box from the list shows its attributes; moving it by keyboard saves the new position.
    group(page, "car").locator(".layer-select").click()
    expect(page.get_by_label("colour")).to_have_value("red")
    page.locator("#stage canvas.stage-overlay").focus()
    page.keyboard.press("Shift+ArrowRight")
    expect(page.locator("#save-status")).to_have_text("All changes saved")
    page.screenshot(path="/tmp/studio-selected.png")
    box.refresh_from_db()
    assert round(box.geometry["x"]) == 110 and box.version == 2
    assert page.errors == []


def test_model_suggestions_are_listed_apart_and_accepted_or_rejected(live_server, new_page, org_a, scene):
    owner, item = scene["owner"], scene["item"]
    suggestion = {"source": "model", "review_state": "proposed", "confidence": 0.9}
    annotations_change(org=org_a, actor=owner.user, item=item, create=[
        {"type": "bbox", "label": "car", "geometry": {"x": 100, "y": 100, "w": 200, "h": 120}, **suggestion},
        {"type": "bbox", "label": "truck", "geometry": {"x": 400, "y": 300, "w": 50, "h": 50}, **suggestion},
    ])
    car, truck = Annotation.objects.filter(item=item).order_by("id")
    page = new_page(live_server.url)
    sign_in(page, owner.user.email)
    open_studio(page, item)

    suggestions = page.locator("#proposal-list .layer-row")
    expect(suggestions).to_have_count(2)
    expect(page.locator("#proposal-count")).to_have_text("(2)")
    expect(group(page, "car")).to_have_count(0)

    page.get_by_role("button", name=f"Accept car box #{car.pk}").click()
    page.get_by_role("button", name=f"Reject truck box #{truck.pk}").click()
    expect(suggestions).to_have_count(0)
    expect(group(page, "car")).to_have_count(1)
    expect(page.locator("#save-status")).to_have_text("All changes saved")

    car.refresh_from_db()
    assert (car.review_state, car.source) == ("", "model")
    assert not Annotation.objects.filter(pk=truck.pk).exists()

    # Undo brings the rejected suggestion back (as a new annotation, the old one being deleted).
    page.locator("#undo").click()
    expect(suggestions).to_have_count(1)
    expect(page.locator("#save-status")).to_have_text("All changes saved")
    assert Annotation.objects.filter(item=item, label="truck", review_state="proposed").count() == 1
    assert page.errors == []


def test_a_stale_change_is_refused_reloaded_and_explained(live_server, new_page, org_a, scene):
    owner, item = scene["owner"], scene["item"]
    annotations_change(org=org_a, actor=owner.user, item=item, create=[
        {"type": "bbox", "label": "truck", "geometry": {"x": 100, "y": 100, "w": 200, "h": 120}},
    ])
    truck = Annotation.objects.get(item=item)
    page = new_page(live_server.url)
    sign_in(page, owner.user.email)
    open_studio(page, item)

    # Someone else moves the truck after she loaded the item; then she nudges her (stale) copy.
    annotations_change(org=org_a, actor=owner.user, item=item,
                       update=[{"id": truck.pk, "version": 1, "geometry": {"x": 300, "y": 300, "w": 200, "h": 120}}])
    group(page, "truck").locator(".layer-select").click()
    page.locator("#stage canvas.stage-overlay").focus()
    page.keyboard.press("ArrowRight")

    expect(page.locator("#save-status")).to_contain_text(
        "Not saved: 1 annotation was changed by someone else since you loaded this item. The latest version is "
        "shown; your change to it was not kept.")
    expect(page.locator("#studio-message")).to_contain_text("changed by someone else")
    shown = page.evaluate(f"() => window.__studio.store.get('s{truck.pk}').geometry.x")
    assert shown == 300
    truck.refresh_from_db()
    assert (truck.version, truck.geometry["x"]) == (2, 300)
    assert page.errors == []


def test_the_next_item_is_preloaded_and_opened(live_server, new_page, org_a, scene):
    owner = scene["owner"]
    second = items_upload(org=org_a, actor=owner.user, dataset=scene["dataset"], files=[street_image(400, 300)])[0]
    annotations_change(org=org_a, actor=owner.user, item=second, create=[
        {"type": "bbox", "label": "truck", "geometry": {"x": 10, "y": 10, "w": 50, "h": 50}},
    ])
    page = new_page(live_server.url)
    sign_in(page, owner.user.email)
    open_studio(page, scene["item"])

    page.wait_for_function(f"() => sessionStorage.getItem('dlsaas.studio.prefetch.{second.pk}') !== null")
    assert page.evaluate("() => window.__studioNextImage.src").endswith(f"/api/v1/items/{second.pk}/content/")
    page.get_by_role("link", name="Next item").click()

    expect(page.locator("#studio-editor")).to_have_attribute("data-ready", "true")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Annotate {second.name}")
    expect(group(page, "truck")).to_have_count(1)
    expect(page.locator("#next-item-none")).to_have_text("Last item of the dataset")
    assert page.errors == []


TOOLBOX_SPEC = {
    "labels": [
        {"name": "thing", "color": "#f28e2b", "hotkey": "t",
         "tools": ["bbox", "rotated_bbox", "ellipse", "point", "polyline", "polygon", "mask"]},
        {"name": "sunny", "tools": ["classification"]},
    ],
    "attributes": [{"name": "weather", "type": "enum", "options": ["dry", "wet"]}],
}


def decode_rle(rle) -> list[list[int]]:
    """COCO's column-major uncompressed RLE as rows of 0/1."""
    height, width = rle["size"]
    flat, value = [], 0
    for run in rle["counts"]:
        flat += [value] * run
        value = 1 - value
    return [[flat[x * height + y] for x in range(width)] for y in range(height)]


def test_the_other_tools_masks_and_classification_are_saved(live_server, new_page, org_a, make_member):
    owner = make_member(org_a, Role.OWNER, email="tom.tools@example.test")
    dataset = DatasetFactory(organization=org_a, name="Toolbox")
    published_recipe(org_a, owner.user, spec=TOOLBOX_SPEC, dataset=dataset)
    item = items_upload(org=org_a, actor=owner.user, dataset=dataset, files=[street_image(400, 300)])[0]
    page = new_page(live_server.url)
    sign_in(page, owner.user.email)
    open_studio(page, item)
    canvas = page.locator("#stage canvas.stage-overlay")

    # A rotated box, turned by its rotation handle with Shift (15-degree steps).
    canvas.focus()
    page.keyboard.press("Shift+R")
    drag(page, (50, 50), (150, 100))
    handle = page.evaluate("() => { const g = window.__studio.store.get(window.__studio.editor.selection).geometry;"
                           " return [g.cx, g.cy - g.h / 2 - 28 / window.__studio.renderer.view.s]; }")
    page.keyboard.press("Shift+S")
    page.mouse.move(*at(page, *handle))
    page.mouse.down()
    page.keyboard.down("Shift")
    page.mouse.move(*at(page, 200, 100), steps=5)
    page.keyboard.up("Shift")
    page.mouse.up()

    # An ellipse, a point, a polyline finished by a double click.
    page.keyboard.press("Shift+E")
    drag(page, (200, 150), (260, 190))
    page.keyboard.press("Shift+P")
    click(page, 30, 250)
    page.keyboard.press("Shift+L")
    for x, y in [(300, 20), (340, 60)]:
        click(page, x, y)
    page.mouse.dblclick(*at(page, 380, 40))

    # A polygon and a hole in it.
    page.keyboard.press("Shift+G")
    for x, y in [(200, 200), (390, 200), (390, 290), (200, 290)]:
        click(page, x, y)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Add hole").click()
    for x, y in [(250, 230), (300, 230), (300, 260)]:
        click(page, x, y)
    page.keyboard.press("Enter")
    expect(page.locator("#studio-message")).to_contain_text("Hole added to thing polygon.")

    # A brush stroke, then the eraser cuts it in two.
    page.keyboard.press("Shift+M")
    page.get_by_label("Brush size (image pixels)").fill("10")
    drag(page, (20, 150), (120, 150))
    page.keyboard.press("Shift+X")
    drag(page, (70, 130), (70, 170))

    # The item is classified, with an item attribute; a copy of the point is pasted, then undone and redone.
    page.get_by_label("sunny").check()
    page.get_by_label("weather").select_option("dry")
    group(page, "thing").get_by_text("Point").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(group(page, "thing")).to_have_count(7)
    page.keyboard.press("Control+z")
    expect(group(page, "thing")).to_have_count(6)
    expect(page.locator("#studio-message")).to_have_text("Undone: Paste.")
    page.keyboard.press("Control+Shift+z")
    expect(group(page, "thing")).to_have_count(7)
    expect(page.locator("#save-status")).to_have_text("All changes saved", timeout=15_000)

    stored = {}
    for a in Annotation.objects.filter(item=item).order_by("id"):
        stored.setdefault(a.type, []).append(a)
    assert sorted((t, len(v)) for t, v in stored.items()) == [
        ("classification", 1), ("ellipse", 1), ("mask", 1), ("point", 2), ("polygon", 1), ("polyline", 1),
        ("rotated_bbox", 1)]
    assert stored["rotated_bbox"][0].geometry["angle"] % 15 == 0 and stored["rotated_bbox"][0].geometry["angle"] != 0
    assert len(stored["polyline"][0].geometry["points"]) == 3
    assert len(stored["polygon"][0].geometry["holes"]) == 1
    assert stored["classification"][0].label == "sunny"
    assert stored["classification"][0].attributes == {"weather": "dry"}
    mask = decode_rle(stored["mask"][0].geometry["rle"])
    assert stored["mask"][0].geometry["rle"]["size"] == [300, 400]
    assert mask[150][40] == 1 and mask[150][100] == 1  # painted on both sides of the cut
    assert mask[150][70] == 0 and mask[100][40] == 0  # erased in the cut; never painted above
    assert page.errors == []
