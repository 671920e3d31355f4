"""The automation pages as the server renders them: the pipeline list (and creating one), the builder and the run
monitor; another tenant's pipeline or run is a 404; names are escaped; the scripts' data is JSON, escaped."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from apps.automation import pipeline_engine
from apps.automation.models import Pipeline
from apps.automation.pipelines import pipeline_create
from apps.datasets.intake import items_upload
from apps.tenancy.roles import Role
from tests.automation.factories import png_bytes
from tests.automation.test_pipelines import drain
from tests.datasets.factories import DatasetFactory

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"


def signed_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def script_data(response, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.content.decode(),
                      re.S)
    assert match, f"the {element_id} block is missing"
    return json.loads(match.group(1))


def simple_graph(message="Snapshot"):
    return {"nodes": [{"id": "start", "type": "trigger", "config": {"kind": "manual"}},
                      {"id": "snapshot", "type": "dataset_version", "config": {"message": message}}],
            "edges": [{"from": "start", "to": "snapshot"}]}


@pytest.fixture
def dataset(org_a):
    return DatasetFactory(organization=org_a, name=f"Photos {HOSTILE}")


@pytest.fixture
def pipeline(org_a, owner_a, dataset):
    return pipeline_create(org=org_a, actor=owner_a.user, name=f"Nightly {HOSTILE}", dataset=dataset,
                           graph=simple_graph(f"Made {HOSTILE}"))


@pytest.fixture
def items(org_a, owner_a, dataset):
    files = [SimpleUploadedFile(f"{n}.png", png_bytes(Image.new("RGB", (8, 8), "white")), content_type="image/png")
             for n in ("one", "two")]
    return items_upload(org=org_a, actor=owner_a.user, dataset=dataset, files=files)


@pytest.fixture
def finished_run(org_a, owner_a, pipeline, items):
    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                             item_ids=[i.pk for i in items])
    drain()
    run.refresh_from_db()
    return run


def test_the_list_names_the_pipelines_escaped_with_their_last_run(owner_a, pipeline, finished_run):
    response = signed_in(owner_a).get(f"/o/{owner_a.organization.slug}/pipelines/")

    body = response.content.decode()
    assert response.status_code == 200
    assert HOSTILE not in body
    assert "Nightly &lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert f"/o/{owner_a.organization.slug}/pipeline-runs/{finished_run.pk}/" in body
    assert ">Done</a>" in body


def test_a_manager_creates_a_pipeline_and_lands_in_its_builder(org_a, owner_a, dataset):
    response = signed_in(owner_a).post(f"/o/{org_a.slug}/pipelines/", {"name": "Fresh", "dataset": dataset.pk})

    pipeline = Pipeline.objects.get(name="Fresh")
    assert response.status_code == 302
    assert response["Location"] == f"/o/{org_a.slug}/pipelines/{pipeline.pk}/"
    assert [n["type"] for n in pipeline.graph["nodes"]] == ["trigger", "dataset_version"]


def test_creating_with_a_taken_name_says_so_beside_the_field(org_a, owner_a, dataset, pipeline):
    response = signed_in(owner_a).post(f"/o/{org_a.slug}/pipelines/", {"name": pipeline.name, "dataset": dataset.pk})

    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_another_organisations_dataset_cannot_be_chosen(org_a, owner_a, org_b):
    foreign = DatasetFactory(organization=org_b)

    response = signed_in(owner_a).post(f"/o/{org_a.slug}/pipelines/", {"name": "Sneaky", "dataset": foreign.pk})

    assert response.status_code == 400
    assert not Pipeline.objects.filter(name="Sneaky").exists()


def test_an_annotator_may_not_open_the_pipelines(org_a, make_member):
    annotator = make_member(org_a, Role.ANNOTATOR)

    response = signed_in(annotator).get(f"/o/{org_a.slug}/pipelines/")

    assert response.status_code in (403, 404)


def test_the_builder_gives_its_script_the_graph_and_the_node_forms(owner_a, pipeline, items):
    response = signed_in(owner_a).get(f"/o/{owner_a.organization.slug}/pipelines/{pipeline.pk}/")

    body = response.content.decode()
    data = script_data(response, "builder-data")
    assert response.status_code == 200
    assert HOSTILE not in body
    assert data["pipeline"]["graph"]["nodes"][1]["config"]["message"] == f"Made {HOSTILE}"
    assert {"trigger", "predict", "route", "human_task", "dataset_version"} <= {t["type"] for t in data["node_types"]}
    assert sorted(i for i, _ in data["items"]) == sorted(i.pk for i in items)
    assert data["urls"]["validate"] == f"/api/v1/pipelines/{pipeline.pk}/validate/"
    assert data["max_dry_run"] == 5


def test_the_monitor_shows_counts_per_node_and_status(owner_a, finished_run):
    response = signed_in(owner_a).get(f"/o/{owner_a.organization.slug}/pipeline-runs/{finished_run.pk}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert HOSTILE not in body
    assert re.search(r'<tr data-node="snapshot"><th scope="row">snapshot</th><td>dataset_version</td>'
                     r'<td data-status-index="0">0</td><td data-status-index="1">0</td>'
                     r'<td data-status-index="2">2</td><td data-status-index="3">0</td>'
                     r'<td data-status-index="4">0</td></tr>', body)
    assert "Dataset version 1" in body
    assert script_data(response, "monitor-data")["run_id"] == finished_run.pk


def test_the_monitor_lists_failed_items_with_their_error_escaped(org_a, owner_a, finished_run):
    row = finished_run.node_runs.get(node_id="snapshot", item__name="one.png")
    row.status, row.error = "failed", f"Broke on {HOSTILE}"
    row.save(update_fields=["status", "error"])

    response = signed_in(owner_a).get(f"/o/{org_a.slug}/pipeline-runs/{finished_run.pk}/")

    body = response.content.decode()
    assert "Broke on &lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert 'id="retry-failed" >' in body or 'id="retry-failed">' in body


@pytest.mark.parametrize("page", ["pipelines/{pipeline}/", "pipeline-runs/{run}/"])
def test_another_organisations_pipeline_and_run_are_not_found(owner_b, finished_run, page):
    path = page.format(pipeline=finished_run.pipeline_id, run=finished_run.pk)

    response = signed_in(owner_b).get(f"/o/{owner_b.organization.slug}/{path}")

    assert response.status_code == 404


def test_the_nav_links_the_pipelines_for_managers(org_a, owner_a):
    response = signed_in(owner_a).get(f"/o/{org_a.slug}/datasets/")

    assert f'href="/o/{org_a.slug}/pipelines/"' in response.content.decode()
