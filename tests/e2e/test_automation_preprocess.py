"""A manager adds a pre-process node in the builder: its form shows the fields of the operations chosen, a missing
size is named on the field, and a dry run shrinks the stored picture."""

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from apps.automation.models import PipelineRun
from apps.datasets.intake import items_upload
from apps.datasets.models import Item
from apps.storage.services import blob_read_bytes
from apps.tenancy.roles import Role
from tests.automation.test_pipelines import drain
from tests.datasets.factories import DatasetFactory
from tests.e2e.test_automation import asgi_server, photo, sign_in  # noqa: F401  (asgi_server is a fixture)


@pytest.mark.slow
def test_a_preprocess_node_is_built_checked_and_dry_run(asgi_server, new_page, org_a, make_member):  # noqa: F811
    manager = make_member(org_a, Role.MANAGER, email="mia.manager@example.test")
    dataset = DatasetFactory(organization=org_a, name="Streets")
    items_upload(org=org_a, actor=manager.user, dataset=dataset, files=[photo("one.png")])
    page = new_page(asgi_server)
    sign_in(page, manager.user.email)

    page.get_by_role("link", name="Pipelines").click()
    page.get_by_label("Name").fill("Shrink")
    page.get_by_label("Dataset").select_option(label="Streets")
    page.get_by_role("button", name="Create and open the builder").click()
    expect(page.locator("#builder")).to_have_attribute("data-ready", "yes")

    page.get_by_role("button", name="Remove version").click()
    page.get_by_label("Add a node of type").select_option(label="Pre-process images (anonymise faces, resize, format)")
    page.get_by_role("button", name="Add the node").click()
    page.get_by_role("button", name="Add a connection").click()
    edge = page.locator("#edge-list li").first
    edge.get_by_label("From").select_option("start")
    edge.get_by_label("To").select_option("preprocess_1")
    node = page.locator('#node-list li[data-node-index="1"]')
    expect(node.get_by_label("Longest side, in pixels")).to_have_count(0)
    node.get_by_label("Resize").select_option(label="Shrink to a longest side (keeps the aspect)")
    page.get_by_role("button", name="Check the pipeline").click()
    expect(node.locator('[data-error-for="graph.nodes.1.config.max_side"]')).to_contain_text(
        "Required: a whole number")

    node.get_by_label("Longest side, in pixels").fill("8")
    page.get_by_role("button", name="Check the pipeline").click()
    expect(page.locator("#builder-status")).to_have_text("The pipeline is valid.")

    page.get_by_label("/one.png").check()
    page.get_by_role("button", name="Run on the chosen items").click()
    expect(page.locator("#run-status")).to_have_text("Running")
    drain()
    expect(page.locator("#run-status")).to_have_text("Done")
    assert PipelineRun.objects.get().status == PipelineRun.Status.DONE
    item = Item.objects.get()
    assert Image.open(io.BytesIO(blob_read_bytes(item.blob))).size == (8, 8)
    assert page.errors == []
