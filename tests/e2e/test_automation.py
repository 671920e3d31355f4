"""A manager builds a two-node pipeline (trigger -> dataset version) in the builder, is told in words what is
missing, fixes it, dry-runs it on an item and watches the run monitor reach done live (websocket on daphne).
An admin rotates a pipeline's webhook secret from its page and sees the new one once."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from playwright.sync_api import expect

from apps.automation.models import Pipeline, PipelineRun
from apps.automation.pipelines import pipeline_create
from apps.automation.webhook_secrets import webhook_signing_secrets
from apps.datasets.intake import items_upload
from apps.tenancy.roles import Role
from tests import processes
from tests.automation.test_pipelines import drain
from tests.datasets.factories import DatasetFactory
from tests.e2e.pages import sign_in


def photo(name):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def asgi_server(transactional_db, tmp_path):
    with processes.asgi_server(tmp_path / "daphne.log") as host:
        yield f"http://{host}"


@pytest.mark.slow
def test_build_validate_dry_run_and_watch_the_run_finish(asgi_server, new_page, org_a, make_member):
    manager = make_member(org_a, Role.MANAGER, email="mia.manager@example.test")
    dataset = DatasetFactory(organization=org_a, name="Streets")
    items_upload(org=org_a, actor=manager.user, dataset=dataset, files=[photo("one.png"), photo("two.png")])
    page = new_page(asgi_server)
    sign_in(page, manager.user.email)

    page.get_by_role("link", name="Pipelines").click()
    page.get_by_label("Name").fill("Snapshots <b>")
    page.get_by_label("Dataset").select_option(label="Streets")
    page.get_by_role("button", name="Create and open the builder").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Snapshots <b>")
    expect(page.locator("#builder")).to_have_attribute("data-ready", "yes")

    # Replace the starting version node with a new one, connect it, and leave its message empty.
    page.get_by_role("button", name="Remove version").click()
    page.get_by_label("Add a node of type").select_option(label="Dataset version")
    page.get_by_role("button", name="Add the node").click()
    page.get_by_role("button", name="Add a connection").click()
    edge = page.locator("#edge-list li").first
    edge.get_by_label("From").select_option("start")
    edge.get_by_label("To").select_option("dataset_version_1")
    page.get_by_role("button", name="Check the pipeline").click()
    node = page.locator('#node-list li[data-node-index="1"]')
    expect(node.locator('[data-error-for="graph.nodes.1.config.message"]')).to_contain_text(
        "Say what the version is")

    node.get_by_label("Version message").fill("Dry run <i>")
    page.get_by_role("button", name="Check the pipeline").click()
    expect(page.locator("#builder-status")).to_have_text("The pipeline is valid.")

    page.get_by_label("/one.png").check()
    page.get_by_role("button", name="Run on the chosen items").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Run")
    expect(page.locator("#run-status")).to_have_text("Running")
    expect(page.locator("#monitor")).to_have_attribute("data-live", "connected")

    drain()  # what the worker would do: deliver the run's node messages

    expect(page.locator("#run-status")).to_have_text("Done")
    expect(page.locator('#node-counts tr[data-node="dataset_version_1"] [data-status-index="2"]')).to_have_text("1")
    assert PipelineRun.objects.get().status == PipelineRun.Status.DONE
    assert page.errors == []


def test_an_admin_rotates_the_webhook_secret_from_the_pipeline_page(live_server, new_page, org_a, owner_a, make_member):
    admin = make_member(org_a, Role.ADMIN, email="ada.admin@example.test")
    graph = {"nodes": [{"id": "start", "type": "trigger", "config": {"kind": "manual"}},
                       {"id": "notify", "type": "webhook", "config": {"url": "https://hooks.example.com/in"}}],
             "edges": [{"from": "start", "to": "notify"}]}
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Notify", graph=graph,
                               dataset=DatasetFactory(organization=org_a, name="Streets"))
    first = pipeline.webhook_secret_shown
    page = new_page(live_server.url)
    sign_in(page, admin.user.email)

    page.goto(f"/o/acme/pipelines/{pipeline.pk}/")
    row = page.locator('#webhook-nodes tr[data-node="notify"]')
    expect(row).to_contain_text("Set")
    expect(row).to_contain_text("Never: made with the pipeline")

    # She is asked first, chooses a one-hour grace period and rotates.
    page.get_by_role("link", name="Rotate secret").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rotate the webhook secret of Notify?")
    page.get_by_label("The old secret keeps signing for").select_option(label="1 hour")
    page.get_by_role("button", name="Rotate secret").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("The webhook secret of Notify was rotated")
    shown = page.get_by_label("New secret").input_value()
    expect(page.locator("#grace-period")).to_contain_text("The old secret keeps signing beside it for 1 hour")
    assert webhook_signing_secrets(Pipeline.objects.get(pk=pipeline.pk)) == [shown, first]

    # Back on the pipeline: when it was rotated and until when the old one signs, never the secret.
    page.get_by_role("link", name="Back to Notify").click()
    expect(page.locator("#webhook-previous")).to_contain_text("The previous secret still signs beside it until")
    expect(row).not_to_contain_text("Never")
    assert shown not in page.content()
    assert page.errors == []
