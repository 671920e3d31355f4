"""The run monitor's live events: every change of a run's counts is announced on the organisation's "pipelines"
topic, naming the run and its status only (the page re-reads the rest through the API)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.automation import pipeline_engine
from apps.automation.pipelines import pipeline_create
from apps.core import events
from apps.datasets.intake import items_upload
from apps.live.selectors import subscription_allowed
from apps.tenancy.roles import Role
from tests.automation.factories import png_bytes
from tests.automation.test_pipelines import drain
from tests.datasets.factories import DatasetFactory


@pytest.fixture
def sent(monkeypatch):
    messages = []
    monkeypatch.setattr(events, "send_now", lambda group, event, data: messages.append((group, event, data)))
    return messages


def test_a_run_announces_its_changes_until_it_is_done(org_a, owner_a, sent, django_capture_on_commit_callbacks):
    dataset = DatasetFactory(organization=org_a)
    item = items_upload(org=org_a, actor=owner_a.user, dataset=dataset, files=[
        SimpleUploadedFile("a.png", png_bytes(Image.new("RGB", (8, 8), "white")), content_type="image/png")])[0]
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Snap", dataset=dataset, graph={
        "nodes": [{"id": "start", "type": "trigger", "config": {}},
                  {"id": "snapshot", "type": "dataset_version", "config": {"message": "Snap"}}],
        "edges": [{"from": "start", "to": "snapshot"}]})

    with django_capture_on_commit_callbacks(execute=True):
        run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                                 item_ids=[item.pk])
        drain()

    mine = [(event, data) for group, event, data in sent if group == f"org.{org_a.pk}.pipelines"]
    assert mine[0] == ("pipeline_run.changed", {"run_id": run.pk, "pipeline_id": pipeline.pk, "status": "running"})
    assert mine[-1] == ("pipeline_run.changed", {"run_id": run.pk, "pipeline_id": pipeline.pk, "status": "done"})


def test_only_those_who_see_models_may_listen_to_pipelines(org_a, owner_a, make_member):
    annotator = make_member(org_a, Role.ANNOTATOR)

    assert subscription_allowed(user=owner_a.user, org_slug=org_a.slug, topic="pipelines") == org_a.pk
    assert subscription_allowed(user=annotator.user, org_slug=org_a.slug, topic="pipelines") is None
