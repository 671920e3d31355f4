"""The workforce in headless Chromium: an annotator pulls a unit, draws and submits; a reviewer rejects it with a
comment pinned to the box; the annotator sees the comment, fixes the box and submits again; the reviewer approves;
the manager's task board (a third browser) follows every step live over the websocket (daphne + Redis); the
reviewer corrects the fixed box herself before approving. And the queue's other paths: model suggestions accepted
into the unit's layer, active time, skip, the next unit preloaded and swapped in without a page load (two in a row,
a reload resuming the held unit), and the end of the queue."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from apps.annotations.models import Annotation, AnnotationRevision
from apps.annotations.services import annotations_change
from apps.datasets.intake import items_upload
from apps.recipes.selectors import dataset_recipe_version
from apps.tenancy.roles import Role
from apps.workforce.models import ReviewComment, WorkEvent, WorkItem
from apps.workforce.services import task_create
from tests import processes
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.e2e.pages import sign_in
from tests.recipes.factories import published_recipe

pytestmark = pytest.mark.e2e


def photo(name, colour=(70, 80, 90)) -> SimpleUploadedFile:
    image = Image.new("RGB", (800, 600), colour)
    ImageDraw.Draw(image).rectangle((100, 100, 300, 220), fill=(200, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


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


def ready(page):
    expect(page.locator("#studio-editor")).to_have_attribute("data-ready", "true")


def trucks(page):
    return page.locator('#object-groups .layer-group[data-label="truck"] .layer-row')


@pytest.fixture
def team(org_a, make_member):
    return {
        "owner": make_member(org_a, Role.OWNER, email="olga.owner@example.test"),
        "manager": make_member(org_a, Role.MANAGER, email="mia.manager@example.test"),
        "annotator": make_member(org_a, Role.ANNOTATOR, email="alex.annotator@example.test"),
        "reviewer": make_member(org_a, Role.REVIEWER, email="rae.reviewer@example.test"),
    }


def make_task(org, team, names, **settings):
    owner = team["owner"].user
    dataset = DatasetFactory(organization=org, name="Streets")
    published_recipe(org, owner, dataset=dataset)
    items = items_upload(org=org, actor=owner, dataset=dataset, files=[photo(name) for name in names])
    members = [{"user_id": team["annotator"].user_id, "role": "annotator"},
               {"user_id": team["reviewer"].user_id, "role": "reviewer"}]
    task = task_create(org=org, actor=owner, dataset=dataset, recipe_version=dataset_recipe_version(
        org=org, dataset=dataset), name="Street <b>boxes</b>", members=members, **settings)
    return task, items


@pytest.fixture
def asgi_server(transactional_db, tmp_path):
    with processes.asgi_server(tmp_path / "daphne.log") as host:
        yield f"http://{host}"


@pytest.mark.slow
def test_annotate_reject_fix_approve_while_the_board_follows_live(asgi_server, new_page, org_a, team):
    task, (item,) = make_task(org_a, team, ["street.png"], review_ratio=1)

    # The manager opens the task board; it listens for the task's events.
    board = new_page(asgi_server)
    sign_in(board, team["manager"].user.email)
    board.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()
    board.get_by_role("link", name="Street <b>boxes</b>").click()
    expect(board.locator("#board")).to_have_attribute("data-live", "connected")

    def count(stage, state):
        return board.locator(f'#counts-table [data-count="{stage}-{state}"]')

    expect(count("annotate", "queued")).to_have_text("1")

    # The annotator starts from My work: the studio pulls her unit.
    annotator = new_page(asgi_server)
    sign_in(annotator, team["annotator"].user.email)
    annotator.get_by_role("navigation", name="Main").get_by_role("link", name="My work").click()
    annotator.get_by_role("link", name="Start annotating Street <b>boxes</b>").click()
    ready(annotator)
    expect(annotator.get_by_role("heading", level=1)).to_have_text("Annotate street.png")
    # (A lease sends no live event yet: the board shows it at the next event or its periodic re-read.)

    # She draws a truck box; it is saved in her unit's layer, not in the item's shared annotations.
    annotator.locator("#stage canvas.stage-overlay").focus()
    annotator.keyboard.press("2")
    annotator.locator('[data-tool="bbox"]').click()
    drag(annotator, (90, 90), (250, 200))
    expect(trucks(annotator)).to_have_count(1)
    expect(annotator.locator("#save-status")).to_have_text("All changes saved")
    unit = WorkItem.objects.get(task=task, stage="annotate")
    box = Annotation.objects.get(item=item)
    assert (box.layer, box.recipe_version_id) == (unit.pk, task.recipe_version_id)

    annotator.get_by_role("button", name="Submit Ctrl+Enter").click()
    expect(annotator.locator("#queue-message")).to_contain_text("No more work in this task.")
    expect(count("annotate", "in_review")).to_have_text("1")
    expect(count("review", "queued")).to_have_text("1")

    # The reviewer selects the box and rejects it with a comment pinned to it.
    reviewer = new_page(asgi_server)
    sign_in(reviewer, team["reviewer"].user.email)
    reviewer.goto("/o/acme/work/")
    reviewer.get_by_role("link", name="Review Street <b>boxes</b>").click()
    ready(reviewer)
    expect(reviewer.get_by_role("heading", level=1)).to_have_text("Review street.png")
    expect(trucks(reviewer)).to_have_count(1)
    trucks(reviewer).locator(".layer-select").click()
    expect(reviewer.locator("#review-pin")).to_be_checked()
    reviewer.get_by_label("Comment", exact=True).fill("Box the <i>whole</i> truck")
    reviewer.get_by_role("button", name="Reject", exact=True).click()
    expect(reviewer.locator("#queue-message")).to_contain_text("No more work in this task")
    comment = ReviewComment.objects.get()
    assert (comment.work_item_id, comment.annotation_id) == (unit.pk, box.pk)
    assert comment.text == "Box the <i>whole</i> truck"
    expect(count("annotate", "rejected")).to_have_text("1")
    expect(count("review", "done")).to_have_text("1")
    expect(count("annotate", "in_review")).to_have_text("0")

    # The annotator gets her work back with the comment, listed and pinned beside the box; she fixes it.
    annotator.goto("/o/acme/work/")
    expect(annotator.locator("#history")).to_contain_text("Box the <i>whole</i> truck")
    annotator.get_by_role("link", name="Continue annotating Street <b>boxes</b>").click()
    ready(annotator)
    comments = annotator.locator("#review-comments li")
    expect(comments).to_have_count(1)
    expect(comments.locator(".comment-text")).to_have_text("Box the <i>whole</i> truck")
    expect(comments).to_contain_text(f"On truck box #{box.pk}")
    expect(annotator.locator(".comment-pin")).to_have_text("1")
    comments.get_by_role("button", name=f"Show truck box #{box.pk}").click()
    annotator.keyboard.press("Shift+ArrowRight")
    expect(annotator.locator("#save-status")).to_have_text("All changes saved")
    box.refresh_from_db()
    assert round(box.geometry["x"]) == 100
    annotator.keyboard.press("Control+Enter")
    expect(annotator.locator("#queue-message")).to_contain_text("No more work in this task.")
    expect(count("annotate", "in_review")).to_have_text("1")
    expect(count("review", "queued")).to_have_text("1")

    # The reviewer sees the earlier comment, corrects the fixed work a little herself (her revision) and approves
    # it; the corrected work becomes the item's annotation.
    reviewer.goto(f"/o/acme/tasks/{task.pk}/review/")
    ready(reviewer)
    expect(reviewer.locator("#review-comments li .comment-text")).to_have_text("Box the <i>whole</i> truck")
    trucks(reviewer).locator(".layer-select").click()
    reviewer.locator("#stage canvas.stage-overlay").focus()
    reviewer.keyboard.press("ArrowRight")
    expect(reviewer.locator("#save-status")).to_have_text("All changes saved")
    reviewer.get_by_role("button", name="Approve", exact=True).click()
    expect(reviewer.locator("#queue-message")).to_contain_text("No more work in this task")
    expect(count("annotate", "approved")).to_have_text("1")
    expect(count("annotate", "in_review")).to_have_text("0")
    expect(board.locator("#task-progress-text")).to_have_text("1 of 1 finished (100%)")
    row = board.locator(f'#members-table tr[data-user-id="{team["annotator"].user_id}"]')
    expect(row.locator('[data-stat="approved"]')).to_have_text("1")
    expect(row.locator('[data-stat="rejected"]')).to_have_text("1")
    expect(row.locator('[data-stat="submitted"]')).to_have_text("2")

    assert WorkItem.objects.get(pk=unit.pk).state == "approved"
    shared = Annotation.objects.get(item=item, layer=None)
    assert (shared.label, round(shared.geometry["x"])) == ("truck", 101)
    assert AnnotationRevision.objects.filter(annotation_id=box.pk, actor=team["reviewer"].user,
                                             changed__contains=["geometry"]).exists()
    assert board.locator("#board").get_attribute("data-live") == "connected"
    for page in (board, annotator, reviewer):
        assert page.errors == []


@pytest.fixture
def storage_roots(settings, tmp_path):
    settings.STORAGE_ROOTS = {"eu": tmp_path / "eu", "us": tmp_path / "us"}


def test_suggestions_active_time_skip_preload_and_the_end_of_the_queue(live_server, new_page, org_a, team,
                                                                       storage_roots):
    task, (first, second) = make_task(org_a, team, ["first.png", "second.png"])
    for item in (first, second):
        annotations_change(org=org_a, actor=team["owner"].user, item=item, create=[
            {"type": "bbox", "label": "truck", "geometry": {"x": 400, "y": 300, "w": 50, "h": 50}, "source": "model",
             "review_state": "proposed", "confidence": 0.8}])
    page = new_page(live_server.url)
    sign_in(page, team["annotator"].user.email)
    page.goto(f"/o/acme/tasks/{task.pk}/work/")
    ready(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Annotate first.png")

    # The model's suggestion is offered; accepting it copies it into her layer (the shared one stays proposed).
    expect(page.locator("#proposal-list .layer-row")).to_have_count(1)
    page.get_by_role("button", name="Accept all").click()
    expect(trucks(page)).to_have_count(1)
    expect(page.locator("#save-status")).to_have_text("All changes saved")
    unit = WorkItem.objects.get(task=task, item=first)
    copy = Annotation.objects.get(item=first, layer=unit.pk)
    assert (copy.review_state, copy.source, copy.recipe_version_id) == ("", "model", task.recipe_version_id)
    assert Annotation.objects.get(item=first, layer=None).review_state == "proposed"

    # Active time: a heartbeat while she works credits it to the unit.
    page.mouse.move(*at(page, 10, 10))
    page.wait_for_timeout(700)
    result = page.evaluate("() => window.__studio.queue.heartbeat({ final: true }).then((r) => r && r.status)")
    assert result == 200
    assert WorkEvent.objects.filter(work_item=unit, kind="heartbeat", active_seconds__gt=0).exists()

    # A marker on the window: the next units open in this same page, without a reload.
    page.evaluate("() => { window.__sameDocument = 'kept'; }")

    # She skips the item, saying why: the next one opens.
    page.get_by_text("Skip this item").click()
    page.get_by_label("Why do you skip it?").select_option("Nothing to annotate")
    page.get_by_role("button", name="Skip", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Annotate second.png")
    ready(page)
    assert WorkEvent.objects.get(work_item=unit, kind="skipped").data == {"reason": "Nothing to annotate"}

    # Submitting it leases the skipped one again and preloads its image before opening it.
    page.get_by_role("button", name="Submit Ctrl+Enter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Annotate first.png")
    ready(page)
    assert WorkItem.objects.get(task=task, item=second).state == "done"
    # A skipped unit's draft is discarded when it goes back to the queue: whoever gets it starts clean, and the
    # model's suggestion is offered again.
    expect(trucks(page)).to_have_count(0)
    expect(page.locator("#proposal-list .layer-row")).to_have_count(1)

    page.get_by_role("button", name="Submit Ctrl+Enter").click()
    expect(page.locator("#queue-message")).to_contain_text("No more work in this task.")
    expect(page.locator("#studio-editor")).to_be_hidden()
    # Skip, submit and submit again happened in the one document; the address names the unit last opened.
    assert page.evaluate("() => window.__sameDocument") == "kept"
    assert f"unit={unit.pk}" in page.url
    assert page.errors == []


def test_two_units_in_a_row_without_a_reload_and_a_reload_resumes(live_server, new_page, org_a, team,
                                                                    storage_roots):
    task, (first, second) = make_task(org_a, team, ["one.png", "two.png"])
    page = new_page(live_server.url)
    sign_in(page, team["annotator"].user.email)
    page.goto(f"/o/acme/tasks/{task.pk}/work/")
    ready(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Annotate one.png")
    page.evaluate("() => { window.__sameDocument = 'kept'; }")

    # She draws a box and submits with the keyboard: the second unit opens in the same page, her box gone.
    page.locator("#stage canvas.stage-overlay").focus()
    page.keyboard.press("2")
    page.locator('[data-tool="bbox"]').click()
    drag(page, (90, 90), (250, 200))
    expect(trucks(page)).to_have_count(1)
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Annotate two.png")
    ready(page)
    expect(trucks(page)).to_have_count(0)
    assert page.evaluate("() => window.__sameDocument") == "kept"
    unit_two = WorkItem.objects.get(task=task, item=second)
    assert unit_two.state == "leased" and f"unit={unit_two.pk}" in page.url

    # The keyboard flow goes on in the swapped-in unit: draw, save to its own layer.
    page.locator("#stage canvas.stage-overlay").focus()
    page.keyboard.press("2")
    page.locator('[data-tool="bbox"]').click()
    drag(page, (300, 300), (400, 400))
    expect(trucks(page)).to_have_count(1)
    expect(page.locator("#save-status")).to_have_text("All changes saved")
    assert Annotation.objects.filter(item=second, layer=unit_two.pk).count() == 1

    # A reload resumes the unit she holds.
    page.reload()
    ready(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Annotate two.png")
    expect(trucks(page)).to_have_count(1)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#queue-message")).to_contain_text("No more work in this task.")
    assert WorkItem.objects.get(pk=unit_two.pk).state == "done"
    assert WorkItem.objects.get(task=task, item=first).state == "done"
    assert page.errors == []


def test_a_manager_creates_a_task_with_a_live_count_of_its_items(live_server, new_page, org_a, team):
    dataset = DatasetFactory(organization=org_a, name="Cameras")
    _recipe, version = published_recipe(org_a, team["owner"].user, dataset=dataset, name="Camera recipe")
    for i in range(5):
        ItemFactory(dataset=dataset, name=f"cam-{i}.jpg", metadata={"camera": "A" if i < 3 else "B"})
    page = new_page(live_server.url)
    sign_in(page, team["manager"].user.email)
    page.goto("/o/acme/tasks/")
    page.get_by_role("link", name="New task").click()

    # Choosing the dataset names the version it pins by default and counts its items; the query narrows them.
    page.get_by_label("Name").fill("Camera A <script>")
    page.get_by_label("Dataset").select_option(label="Cameras")
    expect(page.get_by_label("Recipe version")).to_contain_text(
        f"The dataset's recipe (latest version): Camera recipe v{version.number}")
    expect(page.locator("#query-preview")).to_contain_text("5 items match")
    page.get_by_label("Items (query)").fill('{"metadata.camera": {"$nope": 1}}')
    expect(page.locator("#query-preview")).to_contain_text("The query is not valid")
    page.get_by_label("Items (query)").fill('{"metadata.camera": "A"}')
    expect(page.locator("#query-preview")).to_contain_text("3 items match")
    page.get_by_label("Review ratio").fill("0.5")
    page.get_by_label(f"{team['annotator'].user.email} annotates").check()
    page.get_by_label(f"Weight of {team['annotator'].user.email}").fill("2")
    page.get_by_label(f"{team['reviewer'].user.email} reviews").check()
    page.get_by_role("button", name="Create task").click()

    # The board of the new task opens with its three units queued.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Camera A <script>")
    expect(page.locator('#counts-table [data-count="annotate-queued"]')).to_have_text("3")
    expect(page.locator(f'#members-table tr[data-user-id="{team["annotator"].user_id}"]')).to_contain_text("Annotator")
    assert page.errors == []


def test_a_training_item_shows_how_the_work_compared_with_the_answer(live_server, new_page, org_a, team,
                                                                     storage_roots):
    from apps.workforce.services import task_gold_add

    task, (item,) = make_task(org_a, team, ["gold.png"], is_training=True)
    annotations_change(org=org_a, actor=team["owner"].user, item=item, create=[
        {"type": "bbox", "label": "truck", "geometry": {"x": 100, "y": 100, "w": 200, "h": 120}}])
    task_gold_add(org=org_a, actor=team["owner"].user, task=task, item=item)
    page = new_page(live_server.url)
    sign_in(page, team["annotator"].user.email)
    page.goto(f"/o/acme/tasks/{task.pk}/work/")
    ready(page)

    page.get_by_role("button", name="Submit Ctrl+Enter").click()

    feedback = page.locator("#queue-message")
    expect(feedback).to_contain_text("Training result:")
    expect(feedback).to_contain_text("You drew 0 shapes; the answer has 1; 0 matched.")
    feedback.get_by_role("button", name="Next item").click()
    expect(page.locator("#queue-message")).to_contain_text("No more work in this task.")
    assert page.errors == []
