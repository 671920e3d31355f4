"""A worker killed (SIGKILL) in the middle of a pipeline's predict batch: Redis hands its unacked message to the next
worker once the dead one's heartbeat is stale, and the run ends as if nothing happened: one set of suggestions per
item, one NodeRun per (node, item), one unit per item routed to people, one dataset version.

The pause is a lock, not a hook in the code: the test holds an uncommitted PreAnnotation row for the batch's second
item, so the worker, inside the transaction that writes the batch's suggestions, has written the first item's and
waits on the second's unique key until it is killed. Nothing of the batch is committed then (one transaction per
batch), and the redelivered message does the whole batch again.
"""

import os
import signal
import subprocess
import threading

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from PIL import Image

from apps.annotations.models import Annotation
from apps.automation.models import NodeRun, PipelineRun, PreAnnotation
from apps.automation.pipeline_engine import pipeline_run_start
from apps.automation.pipelines import pipeline_create
from apps.datasets.intake import items_upload
from apps.datasets.models import DatasetVersion
from apps.tenancy.context import system_context
from apps.workforce.models import WorkItem
from apps.workforce.services import task_create
from tests.automation.factories import TEXT_SPEC, png_bytes, registered_classifier
from tests.datasets.factories import DatasetFactory
from tests.processes import ROOT, manage, process_env, wait_for
from tests.recipes.factories import published_recipe

pytestmark = pytest.mark.slow

WORKER = [*manage("rundramatiq", "--processes", "1", "--threads", "2", "--queues", "default.eu", "gpu.eu")]
# The second worker declares a worker dead after 2 s without a heartbeat and runs queue maintenance on every command.
REDELIVERING = {"DLSAAS_DRAMATIQ_HEARTBEAT_MS": "2000", "DLSAAS_DRAMATIQ_MAINTENANCE_CHANCE": "1000000"}


def _start(log_path, **env):
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(WORKER, cwd=ROOT, env=process_env(DLSAAS_INFERENCE_DEVICE="cpu", **env), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    proc.log = log
    return proc


def _stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    proc.log.close()


class HeldPreAnnotation(threading.Thread):
    """Holds an uncommitted PreAnnotation row for (item, version) on its own connection until released."""

    def __init__(self, item, version):
        super().__init__(daemon=True)
        self.item, self.version = item, version
        self.held, self.release = threading.Event(), threading.Event()

    def run(self):
        try:
            with system_context(), transaction.atomic():
                PreAnnotation.objects.create(organization_id=self.item.organization_id, item=self.item,
                                             model_version=self.version)
                self.held.set()
                self.release.wait(120)
                transaction.set_rollback(True)
        finally:
            connection.close()


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


@pytest.fixture
def clean_redis(transactional_db):
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def test_a_killed_worker_s_predict_batch_is_redelivered_and_done_once(clean_redis, org_a, owner_a, tmp_path):
    dataset = DatasetFactory(organization=org_a)
    _recipe, recipe_version = published_recipe(org_a, owner_a.user, name="Things", spec=TEXT_SPEC)
    version = registered_classifier(org_a, owner_a.user, recipe_version=recipe_version)
    task = task_create(org=org_a, actor=owner_a.user, dataset=dataset, recipe_version=recipe_version, name="People",
                       query={"metadata.never": "matches"})
    files = [SimpleUploadedFile(f"{n}.png", png_bytes(Image.new("RGB", (32, 32), c)), content_type="image/png")
             for n, c in (("bright", "white"), ("dark", "black"))]
    bright, dark = items_upload(org=org_a, actor=owner_a.user, dataset=dataset, files=files)
    assert bright.pk < dark.pk  # the predict node works through a batch in id order
    graph = {"nodes": [{"id": "start", "type": "trigger", "config": {}},
                       {"id": "predict", "type": "predict", "config": {"model_version_id": version.pk}},
                       {"id": "route", "type": "route", "config": {"accept_threshold": 0.5}},
                       {"id": "people", "type": "human_task", "config": {"task_id": task.pk}},
                       {"id": "snapshot", "type": "dataset_version", "config": {"message": "Pre-labelled"}}],
             "edges": [{"from": "start", "to": "predict"}, {"from": "predict", "to": "route"},
                       {"from": "route", "to": "people", "when": "human"},
                       {"from": "route", "to": "snapshot", "when": "accept"},
                       {"from": "people", "to": "snapshot"}]}
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Pre-label", dataset=dataset, graph=graph)
    held = HeldPreAnnotation(dark, version)
    held.start()
    assert held.held.wait(30)
    first = _start(tmp_path / "worker.log")
    try:
        run = pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline, item_ids=[bright.pk, dark.pk])
        wait_for(_waiting_on_a_lock, timeout=90, what="the worker to reach the second item of the predict batch")
        assert list(NodeRun.objects.filter(run=run, node_id="predict").values_list("status", flat=True)) \
            == ["running", "running"]
        assert not Annotation.objects.filter(item__in=[bright, dark]).exists()
    finally:
        _stop(first, signal.SIGKILL)
        held.release.set()
        held.join(30)

    second = _start(tmp_path / "worker.log", **REDELIVERING)
    try:
        wait_for(lambda: PipelineRun.objects.get(pk=run.pk).status != "running", timeout=120,
                 what="the redelivered batch to finish the run")
    finally:
        _stop(second)
        print((tmp_path / "worker.log").read_text()[-3000:])

    run.refresh_from_db()
    assert run.status == "done"
    assert list(Annotation.objects.filter(item=bright).values_list("label", "review_state")) == [("car", "")]
    assert list(Annotation.objects.filter(item=dark).values_list("review_state", flat=True)) == ["proposed"]
    assert sorted(PreAnnotation.objects.filter(model_version=version).values_list("item_id", flat=True)) \
        == [bright.pk, dark.pk]
    assert sorted(NodeRun.objects.filter(run=run).values_list("node_id", "item_id", "status")) == sorted(
        [(node, item.pk, "done") for node in ("start", "predict", "route", "snapshot") for item in (bright, dark)]
        + [("people", dark.pk, "done")])
    assert NodeRun.objects.get(run=run, node_id="predict", item_id=dark.pk).attempts == 2
    assert list(WorkItem.objects.filter(task=task).values_list("item_id", flat=True)) == [dark.pk]
    assert DatasetVersion.objects.filter(dataset=dataset).count() == 1
    assert [v["number"] for v in run.result["versions"]] == [1]
