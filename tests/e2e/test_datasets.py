"""A manager creates a dataset, uploads images, browses, filters and opens an item, in headless Chromium."""

import io
import threading
import zipfile

import pytest
from django.db import connection
from PIL import Image
from playwright.sync_api import expect

from apps.datasets.models import Dataset, ImportJob, Item
from apps.datasets.tasks import fetch_import_items, make_item_thumbnail, run_import_job
from apps.datasets.views import BROWSER_PAGE_SIZE
from apps.tenancy.context import TenantState, set_state
from apps.tenancy.roles import Role
from tests import processes
from tests.datasets.factories import ItemFactory
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def storage_roots(settings, tmp_path):
    settings.STORAGE_ROOTS = {"eu": tmp_path / "eu", "us": tmp_path / "us"}


def test_a_manager_uploads_browses_filters_and_opens_an_item(live_server, new_page, org_a, make_member):
    manager = make_member(org_a, Role.MANAGER, email="maya.manager@example.test")
    page = new_page(live_server.url)
    sign_in(page, manager.user.email)

    # She creates a dataset from the list page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Datasets")
    page.get_by_label("Name").fill("Fruit <b>stand</b>")
    page.get_by_label("Classification").select_option(label="Internal")
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add items to Fruit <b>stand</b>")
    dataset = Dataset.objects.get(organization=org_a, name="Fruit <b>stand</b>")

    # She uploads three images; each file shows its own progress and result.
    page.locator("#upload-files").set_input_files([
        {"name": "apple.png", "mimeType": "image/png", "buffer": png(320, 240, (200, 40, 40))},
        {"name": "banana.png", "mimeType": "image/png", "buffer": png(240, 320, (230, 200, 40))},
        {"name": "cherry.png", "mimeType": "image/png", "buffer": png(200, 200, (120, 20, 60))},
    ])
    page.get_by_label("Folder").first.fill("/fruit")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-summary")).to_have_text("3 of 3 files uploaded.")
    expect(page.locator("#upload-list .upload-done")).to_have_count(3)
    page.screenshot(path="/tmp/datasets-upload.png", full_page=True)
    items = list(Item.objects.filter(dataset=dataset).order_by("name"))
    assert [(i.name, i.folder, i.width) for i in items] == [
        ("apple.png", "/fruit", 320), ("banana.png", "/fruit", 240), ("cherry.png", "/fruit", 200),
    ]
    # The thumbnail worker does not run under live_server: make them as it would.
    for item in items:
        make_item_thumbnail.fn(org_a.pk, item.pk)

    # The browser shows three tiles with their thumbnails, and the folder in the sidebar.
    page.get_by_role("link", name="Browse Fruit <b>stand</b>").click()
    grid = page.locator("#item-grid")
    expect(grid.locator(".tile")).to_have_count(3)
    expect(page.locator("#result-count")).to_have_text("3 items")
    expect(page.locator("#folder-list")).to_contain_text("fruit")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#item-grid img')].filter(i => i.complete && i.naturalWidth > 0)"
        ".length === 3"
    )
    page.screenshot(path="/tmp/datasets-browser.png", full_page=True)

    # A bad filter is refused in words naming its path; the grid stays.
    page.get_by_text("Advanced: the filter as JSON").click()
    page.get_by_label("Filter (JSON)").fill('{"size": {"$gt": "big"}}')
    page.get_by_role("button", name="Apply JSON").click()
    expect(page.locator("#filter-error")).to_contain_text("filter.size.$gt: expected an integer, got 'big'")
    expect(grid.locator(".tile")).to_have_count(3)
    page.screenshot(path="/tmp/datasets-filter-error.png")

    # The rows now show that filter; she changes it to name contains "b", which leaves only the banana.
    expect(page.get_by_label("Field of condition 1")).to_have_value("size")
    page.get_by_label("Field of condition 1").select_option(label="Name")
    page.get_by_label("Operator of condition 1").select_option(label="contains")
    page.get_by_label("Value of condition 1").fill("b")
    expect(page.get_by_label("Filter (JSON)")).to_have_value('{\n  "name": {\n    "$contains": "b"\n  }\n}')
    page.get_by_role("button", name="Apply filter").click()
    expect(grid.locator(".tile")).to_have_count(1)
    expect(page.locator("#result-count")).to_have_text("1 item")
    expect(page.locator("#filter-error")).to_be_hidden()
    assert "filter=" in page.url

    # A reload keeps the filter (the URL carries it) and the server renders the same page.
    page.reload()
    expect(grid.locator(".tile")).to_have_count(1)
    expect(page.get_by_label("Value of condition 1")).to_have_value("b")

    # She opens the item: its facts, and the image itself loaded from the content URL.
    grid.get_by_role("link", name="banana.png").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("banana.png")
    expect(page.locator("#item-facts")).to_contain_text("240 \u00d7 320 pixels")
    page.wait_for_function(
        "() => { const i = document.getElementById('preview-image'); return i && i.complete && i.naturalWidth > 0; }"
    )
    assert page.evaluate("() => document.getElementById('preview-image').naturalWidth") == 240
    page.screenshot(path="/tmp/datasets-item.png", full_page=True)

    # She edits the metadata; a broken JSON is refused in words, a good one saved.
    page.get_by_label("Metadata (JSON object)").fill('{"ripe": ')
    page.get_by_role("button", name="Save metadata").click()
    expect(page.locator("#metadata-form")).to_contain_text("This is not valid JSON")
    page.get_by_label("Metadata (JSON object)").fill('{"ripe": true}')
    page.get_by_role("button", name="Save metadata").click()
    expect(page.get_by_role("status").first).to_have_text("The metadata was saved.")
    assert Item.objects.get(pk=items[1].pk).metadata == {"ripe": True}

    assert page.errors == []


def test_endless_scroll_and_a_bulk_move_of_selected_items(live_server, new_page, org_a, owner_a, make_member):
    from apps.datasets.services import dataset_create

    manager = make_member(org_a, Role.MANAGER, email="max.manager@example.test")
    dataset = dataset_create(org=org_a, actor=owner_a.user, name="Many")
    ItemFactory.create_batch(BROWSER_PAGE_SIZE + 10, dataset=dataset)
    ItemFactory(dataset=dataset, name='<img src=x onerror="window.pwned=1">')
    page = new_page(live_server.url)
    sign_in(page, manager.user.email)

    page.goto(f"/o/acme/datasets/{dataset.pk}/")
    grid = page.locator("#item-grid")
    expect(grid.locator(".tile")).to_have_count(BROWSER_PAGE_SIZE)
    page.locator("#load-more").scroll_into_view_if_needed()
    expect(grid.locator(".tile")).to_have_count(BROWSER_PAGE_SIZE + 11)
    expect(page.locator("#grid-status")).to_have_text("That is all.")
    expect(page.locator("#load-more")).to_be_hidden()
    expect(grid.locator(".tile-name", has_text='<img src=x onerror="window.pwned=1">')).to_have_count(1)

    # Two items ticked with the keyboard, moved to a folder.
    first, second = grid.locator(".tile-checkbox").nth(0), grid.locator(".tile-checkbox").nth(1)
    first.focus()
    page.keyboard.press("Space")
    second.check()
    expect(page.locator("#selection-count")).to_have_text("2 items selected.")
    page.get_by_label("Action").select_option(label="Move to folder")
    page.locator("#bulk_to_folder").fill("/picked")
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.get_by_role("status").first).to_have_text("2 items moved to /picked.")
    assert Item.objects.filter(dataset=dataset, folder="/picked").count() == 2

    # The new folder filters from the sidebar without a reload; deleting asks first.
    page.locator("#folder-list").get_by_role("link", name="picked").click()
    expect(grid.locator(".tile")).to_have_count(2)
    expect(page.locator("#result-count")).to_have_text("2 items in /picked")
    page.get_by_label("All 2 items matching the filter").check()
    page.get_by_label("Action").select_option(label="Delete")
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.locator("#bulk-confirm")).to_contain_text("Delete all 2 items matching this filter?")
    assert Item.objects.filter(dataset=dataset, folder="/picked").count() == 2
    page.get_by_role("button", name="Delete them all").click()
    expect(page.get_by_role("status").first).to_have_text("Deleted 2 items.")
    assert Item.objects.filter(dataset=dataset).count() == BROWSER_PAGE_SIZE + 9

    assert page.evaluate("() => window.pwned") is None
    assert page.errors == []


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


def test_an_import_shows_its_progress_and_its_row_errors(live_server, new_page, org_a, owner_a, make_member):
    from apps.datasets.services import dataset_create

    manager = make_member(org_a, Role.MANAGER, email="mia.manager@example.test")
    dataset = dataset_create(org=org_a, actor=owner_a.user, name="Imported")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.png", png(16, 16, (0, 0, 200)))
        zf.writestr("b.png", png(16, 16, (0, 200, 0)))
        zf.writestr("<img src=x onerror=window.pwned=1>.png", b"<html><script>window.pwned=1</script></html>")
    page = new_page(live_server.url)
    sign_in(page, manager.user.email)

    page.goto(f"/o/acme/datasets/{dataset.pk}/upload/")
    page.get_by_label("Manifest or archive").set_input_files(
        {"name": "photos.zip", "mimeType": "application/zip", "buffer": archive.getvalue()}
    )
    page.get_by_role("button", name="Start import").click()
    row = page.locator("#imports-table tbody tr").first
    expect(row.locator(".job-status")).to_have_text("Queued")
    job = ImportJob.objects.get(dataset=dataset)

    # The worker runs it; live_server has no websockets, so the page asks every 2 seconds.
    in_worker_thread(run_import_job.fn, org_a.pk, job.pk)

    expect(row.locator(".job-status")).to_have_text("Done", timeout=10_000)
    expect(row.locator(".job-counts")).to_have_text("3 of 3 rows: 2 imported, 1 failed")
    expect(page.locator("#imports-table")).to_have_attribute("data-live", "polling")
    row.get_by_role("link", name="Row errors").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rows that were not imported")
    expect(page.locator("#row-errors")).to_contain_text("<img src=x onerror=window.pwned=1>.png")
    expect(page.locator("#row-errors")).to_contain_text("its content is HTML")
    assert Item.objects.filter(dataset=dataset).count() == 2
    assert page.evaluate("() => window.pwned") is None
    assert page.errors == []


@pytest.fixture
def asgi_server(transactional_db, tmp_path):
    with processes.asgi_server(tmp_path / "daphne.log") as host:
        yield f"http://{host}"


@pytest.mark.slow
def test_import_progress_arrives_over_the_websocket(asgi_server, new_page, org_a, owner_a, make_member):
    from apps.datasets.intake import urls_import_start
    from apps.datasets.services import dataset_create

    manager = make_member(org_a, Role.MANAGER, email="milo.manager@example.test")
    dataset = dataset_create(org=org_a, actor=owner_a.user, name="Live imports")
    page = new_page(asgi_server)
    sign_in(page, manager.user.email)
    page.goto(f"/o/acme/datasets/{dataset.pk}/upload/")
    table = page.locator("#imports-table")
    expect(table).to_have_attribute("data-live", "connected")

    # A URL import started elsewhere (the API, another tab) appears at once, then finishes.
    in_worker_thread(lambda: urls_import_start(org=org_a, actor=owner_a.user, dataset=dataset,
                                               urls=["http://10.0.0.1/a.jpg", "http://10.0.0.1/b.jpg"]))
    row = table.locator("tbody tr").first
    expect(row.locator(".job-status")).to_have_text("Running")
    expect(row.locator(".job-counts")).to_have_text("0 of 2 rows: 0 imported, 0 failed")
    job = ImportJob.objects.get(dataset=dataset)
    in_worker_thread(fetch_import_items.fn, org_a.pk, job.pk)

    expect(row.locator(".job-status")).to_have_text("Done")
    expect(row.locator(".job-counts")).to_have_text("2 of 2 rows: 0 imported, 2 failed")
    expect(row.get_by_role("link", name="Row errors")).to_be_visible()
    expect(page.locator("#imports-live")).to_have_text("Import finished: 0 imported, 2 failed.")
    expect(table).to_have_attribute("data-live", "connected")
    assert page.errors == []
