"""The manager's performance dashboard in headless Chromium: charts drawn, and the team table follows an annotator's
submit live over the websocket (daphne + Redis)."""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from apps.tenancy.roles import Role
from apps.workforce.services import task_create
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.factories import make_token
from tests.recipes.factories import published_recipe

from .test_workforce import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def asgi_server(transactional_db, tmp_path):
    from tests import processes

    with processes.asgi_server(tmp_path / "daphne.log") as host:
        yield f"http://{host}"


def call(base_url: str, membership, method: str, path: str) -> dict:
    _token, raw = make_token(membership)
    request = urllib.request.Request(base_url + path, data=b"{}", method=method, headers={
        "Authorization": f"Bearer {raw}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_the_dashboard_draws_its_charts_and_follows_a_submit(asgi_server, new_page, org_a, make_member):
    manager = make_member(org_a, Role.MANAGER, email="mia.manager@example.test")
    annotator = make_member(org_a, Role.ANNOTATOR, email="alex.annotator@example.test", full_name="Alex <b>A</b>")
    dataset = DatasetFactory(organization=org_a)
    _recipe, version = published_recipe(org_a, manager.user, dataset=dataset)
    ItemFactory(dataset=dataset, name="a.jpg")
    ItemFactory(dataset=dataset, name="b.jpg")
    task = task_create(org=org_a, actor=manager.user, dataset=dataset, recipe_version=version, name="Streets",
                       members=[{"user_id": annotator.user_id, "role": "annotator"}])

    page = new_page(asgi_server)
    sign_in(page, manager.user.email)
    page.goto(f"/o/acme/tasks/{task.pk}/")
    page.get_by_role("link", name="Performance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Performance of Streets")
    expect(page.locator("#perf")).to_have_attribute("data-live", "connected")
    expect(page.locator("#perf")).to_have_attribute("data-loaded", "true")
    row = page.locator(f'#team-table tr[data-person="{annotator.user_id}"]')
    expect(row.locator("th")).to_have_text("Alex <b>A</b>")
    expect(row.locator('[data-stat="units_done"]')).to_have_text("0")
    assert page.evaluate("() => !!Chart.getChart(document.getElementById('burndown-chart'))")
    assert page.evaluate("() => !!Chart.getChart(document.getElementById('scatter-chart'))")

    # The annotator takes a unit and submits it through the API (its own process's live events, as in production).
    unit = call(asgi_server, annotator, "POST", f"/api/v1/tasks/{task.pk}/next/")
    call(asgi_server, annotator, "POST", f"/api/v1/work-items/{unit['id']}/submit/")

    expect(row.locator('[data-stat="units_done"]')).to_have_text("1")
    expect(page.locator("#perf-progress-text")).to_have_text("1 of 2 finished")
    assert page.errors == []
