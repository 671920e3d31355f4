"""A pipeline run end to end through a real Dramatiq worker process on Redis: the outbox sends the predict message to
gpu.eu and the rest to default.eu after commit, and the worker takes the run to done."""

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.annotations.models import Annotation
from apps.automation.models import PipelineRun
from apps.automation.pipeline_engine import pipeline_run_start
from apps.automation.pipelines import pipeline_create
from apps.datasets.intake import items_upload
from apps.workforce.models import WorkItem
from apps.workforce.services import task_create
from tests.automation.factories import TEXT_SPEC, png_bytes, registered_classifier
from tests.datasets.factories import DatasetFactory
from tests.processes import manage, process_env, running, wait_for
from tests.recipes.factories import published_recipe

pytestmark = pytest.mark.slow


@pytest.fixture
def worker(transactional_db, tmp_path):
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    args = manage("rundramatiq", "--processes", "1", "--threads", "2", "--queues", "default.eu", "gpu.eu")
    with running(args, process_env(DLSAAS_INFERENCE_DEVICE="cpu"), tmp_path / "worker.log") as proc:
        yield proc
    print((tmp_path / "worker.log").read_text()[-3000:])


def test_a_worker_process_runs_a_pipeline_to_the_end(worker, org_a, owner_a):
    dataset = DatasetFactory(organization=org_a)
    _recipe, recipe_version = published_recipe(org_a, owner_a.user, name="Things", spec=TEXT_SPEC)
    version = registered_classifier(org_a, owner_a.user, recipe_version=recipe_version)
    task = task_create(org=org_a, actor=owner_a.user, dataset=dataset, recipe_version=recipe_version, name="People",
                       query={"metadata.never": "matches"})
    files = [SimpleUploadedFile(f"{n}.png", png_bytes(Image.new("RGB", (32, 32), c)), content_type="image/png")
             for n, c in (("bright", "white"), ("dark", "black"))]
    bright, dark = sorted(items_upload(org=org_a, actor=owner_a.user, dataset=dataset, files=files),
                          key=lambda i: i.name)
    graph = {"nodes": [{"id": "start", "type": "trigger", "config": {}},
                       {"id": "predict", "type": "predict", "config": {"model_version_id": version.pk}},
                       {"id": "route", "type": "route", "config": {"accept_threshold": 0.5}},
                       {"id": "people", "type": "human_task", "config": {"task_id": task.pk}}],
             "edges": [{"from": "start", "to": "predict"}, {"from": "predict", "to": "route"},
                       {"from": "route", "to": "people", "when": "human"}]}
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Pre-label", dataset=dataset, graph=graph)

    run = pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline, item_ids=[bright.pk, dark.pk])

    wait_for(lambda: PipelineRun.objects.get(pk=run.pk).status != "running", timeout=90, what="the run to finish")
    assert PipelineRun.objects.get(pk=run.pk).status == "done"
    assert list(Annotation.objects.filter(item=bright).values_list("label", "review_state")) == [("car", "")]
    assert list(WorkItem.objects.filter(task=task).values_list("item_id", flat=True)) == [dark.pk]
