"""The webhook node (a signed POST through the URL intake's SSRF-safe client) and the qa node (a deterministic sample
of the items sent to a review task, the rest going on).

The receiver is a local HTTP server on 127.0.0.1: the SSRF guard refuses loopback, so its port is let through with
the tests-only setting URL_IMPORT_ALLOW_LOOPBACK_PORTS, as the URL intake's tests do.
"""

import contextlib
import hashlib
import hmac
import http.server
import json
import threading

import pytest

from apps.automation import pipeline_engine
from apps.automation.models import NodeRun, PipelineRun
from apps.automation.pipeline_nodes import WebhookFailed, qa_sampled
from apps.core.models import OutboxMessage
from apps.workforce.models import WorkItem
from apps.workforce.services import task_create
from tests.automation.test_pipelines import ACTORS, drain
from tests.datasets.factories import DatasetFactory, ItemFactory


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.path, dict(self.headers), body))
        status = self.server.status
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def receiver(settings):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received, server.status = [], 200
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    settings.URL_IMPORT_ALLOW_LOOPBACK_PORTS = (port,)
    server.url = f"http://127.0.0.1:{port}/hooks/dlsaas"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def dataset(org_a):
    return DatasetFactory(organization=org_a)


@pytest.fixture
def items(dataset):
    return [ItemFactory(dataset=dataset) for _ in range(3)]


def webhook_graph(url):
    return {"nodes": [{"id": "start", "type": "trigger", "config": {}},
                      {"id": "notify", "type": "webhook", "config": {"url": url}}],
            "edges": [{"from": "start", "to": "notify"}]}


def create(client, dataset, graph, name="Notify"):
    return client.post("/api/v1/pipelines/", {"name": name, "dataset_id": dataset.pk, "graph": graph},
                       format="json")


# --- webhook ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://10.0.0.5/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://127.0.0.1/hook", "http://localhost/hook", "http://[::1]/hook",
                                 "ftp://example.com/hook", "http://user:pw@example.com/hook", "", "example.com"])
def test_a_webhook_url_that_is_not_public_http_is_refused_at_save(api_for, owner_a, dataset, url):
    response = create(api_for(owner_a), dataset, webhook_graph(url))

    assert response.status_code == 400
    assert "graph.nodes.1.config.url" in response.json()["errors"]


def test_the_webhook_posts_a_signed_summary_and_logs_the_status(api_for, owner_a, dataset, items, receiver):
    client = api_for(owner_a)
    created = create(client, dataset, webhook_graph(receiver.url))
    assert created.status_code == 201
    secret = created.json()["webhook_secret"]
    assert len(secret) >= 32
    assert "webhook_secret" not in client.get(f"/api/v1/pipelines/{created.json()['id']}/").json()

    run = client.post(f"/api/v1/pipelines/{created.json()['id']}/run/", {"item_ids": [i.pk for i in items]},
                      format="json").json()
    drain()

    assert len(receiver.received) == 1
    path, headers, body = receiver.received[0]
    assert path == "/hooks/dlsaas"
    timestamp = headers["X-Dlsaas-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Dlsaas-Signature"], f"sha256={expected}")
    payload = json.loads(body)
    assert payload["run_id"] == run["id"] and payload["node_id"] == "notify"
    assert [i["item_id"] for i in payload["items"]] == sorted(i.pk for i in items)
    detail = client.get(f"/api/v1/pipeline-runs/{run['id']}/").json()
    assert detail["status"] == "done"
    logs = set(NodeRun.objects.filter(node_id="notify").values_list("log", flat=True))
    assert len(logs) == 1 and f"POST {receiver.url} answered 200" in logs.pop()


def test_the_payload_carries_the_suggestions_labels_and_confidences(org_a, owner_a, text_recipe, receiver):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from apps.automation.pipelines import pipeline_create
    from apps.datasets.intake import items_upload
    from tests.automation.factories import png_bytes, registered_classifier

    dataset = DatasetFactory(organization=org_a)
    version = registered_classifier(org_a, owner_a.user, recipe_version=text_recipe[1])
    [bright] = items_upload(org=org_a, actor=owner_a.user, dataset=dataset, files=[SimpleUploadedFile(
        "bright.png", png_bytes(Image.new("RGB", (32, 32), "white")), content_type="image/png")])
    graph = {"nodes": [{"id": "start", "type": "trigger", "config": {}},
                       {"id": "predict", "type": "predict", "config": {"model_version_id": version.pk}},
                       {"id": "notify", "type": "webhook", "config": {"url": receiver.url}}],
             "edges": [{"from": "start", "to": "predict"}, {"from": "predict", "to": "notify"}]}
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Notify", dataset=dataset, graph=graph)

    pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline, item_ids=[bright.pk])
    drain()

    [item] = json.loads(receiver.received[0][2])["items"]
    assert item["item_id"] == bright.pk
    assert [s["label"] for s in item["suggestions"]] == ["car"]
    assert item["suggestions"][0]["confidence"] > 0.5


def test_a_name_that_resolves_to_a_private_address_is_refused_when_sending(org_a, owner_a, dataset, items,
                                                                          receiver, monkeypatch):
    """Saved while the name looked public; by the time the node sends, it resolves to a private address (DNS
    rebinding): the intake's client refuses it and the items fail at once, without retries."""
    import socket

    from apps.automation.pipelines import pipeline_create

    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Notify", dataset=dataset,
                               graph=webhook_graph("https://hooks.example.com/dlsaas"))
    real = socket.getaddrinfo

    def rebound(host, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("10.0.0.5", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound)

    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                             item_ids=[items[0].pk])
    drain()

    row = NodeRun.objects.get(run=run, node_id="notify")
    assert (row.status, row.attempts) == ("failed", 1)
    assert "10.0.0.5, which is not a public internet address" in row.error
    assert PipelineRun.objects.get(pk=run.pk).status == "failed"


def test_a_server_error_is_retried_then_fails_the_items(api_for, org_a, owner_a, dataset, items, receiver):
    from apps.automation.pipelines import pipeline_create

    receiver.status = 500
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Notify", dataset=dataset,
                               graph=webhook_graph(receiver.url))
    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                             item_ids=[i.pk for i in items])
    with pytest.raises(WebhookFailed):
        drain()
    assert NodeRun.objects.get(run=run, node_id="notify", item=items[0]).status == "queued"  # waiting for a retry
    message = OutboxMessage.objects.get(args__2="notify")
    for _ in range(pipeline_engine.MAX_ATTEMPTS - 1):  # Dramatiq's retries, after their backoff
        with contextlib.suppress(WebhookFailed):
            ACTORS[message.actor_name].fn(*message.args)

    assert len(receiver.received) == pipeline_engine.MAX_ATTEMPTS
    detail = api_for(owner_a).get(f"/api/v1/pipeline-runs/{run.pk}/").json()
    assert detail["status"] == "failed"
    assert sorted((f["item_id"], f["attempts"]) for f in detail["failed"]) == [
        (i.pk, pipeline_engine.MAX_ATTEMPTS) for i in sorted(items, key=lambda i: i.pk)]
    assert "answered 500" in detail["failed"][0]["error"]
    row = NodeRun.objects.get(run=run, node_id="notify", item=items[0])
    assert row.log.count("answered 500") == pipeline_engine.MAX_ATTEMPTS


# --- qa --------------------------------------------------------------------------------------------------------


@pytest.fixture
def tasks(org_a, owner_a, dataset, text_recipe):
    def make(name):
        return task_create(org=org_a, actor=owner_a.user, dataset=dataset, recipe_version=text_recipe[1], name=name,
                           query={"metadata.never": "matches"})
    return make("Review a sample"), make("Everything else")


def qa_graph(review, rest, ratio):
    return {"nodes": [{"id": "start", "type": "trigger", "config": {}},
                      {"id": "qa", "type": "qa", "config": {"task_id": review.pk, "sample_ratio": ratio}},
                      {"id": "rest", "type": "human_task", "config": {"task_id": rest.pk}}],
            "edges": [{"from": "start", "to": "qa"}, {"from": "qa", "to": "rest"}]}


@pytest.mark.parametrize("ratio", [-0.1, 1.5, "half", None])
def test_a_sample_ratio_outside_zero_to_one_is_named(api_for, owner_a, dataset, tasks, ratio):
    response = create(api_for(owner_a), dataset, qa_graph(*tasks, ratio))

    assert response.status_code == 400
    assert "graph.nodes.1.config.sample_ratio" in response.json()["errors"]


def test_another_tenants_review_task_is_unknown(api_for, owner_a, org_b, owner_b, dataset, tasks):
    from tests.automation.factories import TEXT_SPEC
    from tests.recipes.factories import published_recipe

    other = task_create(org=org_b, actor=owner_b.user, dataset=DatasetFactory(organization=org_b),
                        recipe_version=published_recipe(org_b, owner_b.user, name="B", spec=TEXT_SPEC)[1], name="B",
                        query={"metadata.never": "matches"})

    response = create(api_for(owner_a), dataset, qa_graph(other, tasks[1], 0.5))

    assert response.status_code == 400
    assert "graph.nodes.1.config.task_id" in response.json()["errors"]


def test_qa_sends_a_deterministic_sample_to_review_and_the_rest_on(org_a, owner_a, dataset, tasks):
    from apps.automation.pipelines import pipeline_create

    review, rest = tasks
    items = [ItemFactory(dataset=dataset) for _ in range(20)]
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="QA", dataset=dataset,
                               graph=qa_graph(review, rest, 0.5))
    expected = {i.pk for i in items if qa_sampled("qa", i.pk, 0.5)}
    assert 0 < len(expected) < len(items)  # the sample is a share, not all or nothing

    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                             item_ids=[i.pk for i in items])
    drain()

    assert set(WorkItem.objects.filter(task=review).values_list("item_id", flat=True)) == expected
    assert set(WorkItem.objects.filter(task=rest).values_list("item_id", flat=True)) == {i.pk for i in items} - expected
    assert PipelineRun.objects.get(pk=run.pk).status == "done"
    # a second run samples the same items
    again = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                               item_ids=[i.pk for i in items])
    drain()
    assert set(NodeRun.objects.filter(run=again, node_id="rest").values_list("item_id", flat=True)) == \
        {i.pk for i in items} - expected


@pytest.mark.parametrize(("ratio", "reviewed"), [(0, 0), (1, 4)])
def test_qa_ratio_zero_reviews_nothing_and_one_reviews_everything(org_a, owner_a, dataset, tasks, ratio, reviewed):
    from apps.automation.pipelines import pipeline_create

    review, rest = tasks
    items = [ItemFactory(dataset=dataset) for _ in range(4)]
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="QA", dataset=dataset,
                               graph=qa_graph(review, rest, ratio))

    pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                       item_ids=[i.pk for i in items])
    drain()

    assert WorkItem.objects.filter(task=review).count() == reviewed
    assert WorkItem.objects.filter(task=rest).count() == 4 - reviewed


# --- human_task with wait: true --------------------------------------------------------------------------------


def wait_graph(people, after):
    return {"nodes": [{"id": "start", "type": "trigger", "config": {}},
                      {"id": "people", "type": "human_task", "config": {"task_id": people.pk, "wait": True}},
                      {"id": "after", "type": "human_task", "config": {"task_id": after.pk}}],
            "edges": [{"from": "start", "to": "people"}, {"from": "people", "to": "after"}]}


def test_a_waiting_human_task_holds_its_items_until_their_units_are_done(api_for, org_a, owner_a, dataset, tasks):
    from apps.automation import tasks as automation_tasks
    from apps.automation.pipelines import pipeline_create

    people, after = tasks
    first, second = [ItemFactory(dataset=dataset) for _ in range(2)]
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Wait", dataset=dataset,
                               graph=wait_graph(people, after))
    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                             item_ids=[first.pk, second.pk])
    drain()
    client = api_for(owner_a)

    detail = client.get(f"/api/v1/pipeline-runs/{run.pk}/").json()
    assert detail["status"] == "running"
    assert (detail["nodes"]["people"]["waiting"], detail["nodes"]["after"]["done"]) == (2, 0)
    assert pipeline_engine.human_task_waits_release(org=org_a) == 0  # nobody has done anything yet

    WorkItem.objects.filter(task=people, item=first).update(state=WorkItem.State.APPROVED)
    automation_tasks.sweep_waiting_node_runs()  # the periodic job queues one message per organisation
    message = OutboxMessage.objects.get(actor_name="release_waiting_node_runs")
    assert message.args[0] == org_a.pk
    automation_tasks.release_waiting_node_runs.fn(*message.args)
    drain()

    assert set(WorkItem.objects.filter(task=after).values_list("item_id", flat=True)) == {first.pk}
    assert NodeRun.objects.get(run=run, node_id="people", item=second).status == "waiting"
    assert client.get(f"/api/v1/pipeline-runs/{run.pk}/").json()["status"] == "running"

    WorkItem.objects.filter(task=people, item=second).update(state=WorkItem.State.DONE)
    assert pipeline_engine.human_task_waits_release(org=org_a) == 1
    assert pipeline_engine.human_task_waits_release(org=org_a) == 0  # a second sweep moves nothing twice
    drain()

    assert set(WorkItem.objects.filter(task=after).values_list("item_id", flat=True)) == {first.pk, second.pk}
    assert client.get(f"/api/v1/pipeline-runs/{run.pk}/").json()["status"] == "done"


def test_without_wait_a_human_task_goes_on_at_once(org_a, owner_a, dataset, tasks):
    from apps.automation.pipelines import pipeline_create

    people, after = tasks
    graph = wait_graph(people, after)
    del graph["nodes"][1]["config"]["wait"]
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="No wait", dataset=dataset, graph=graph)
    item = ItemFactory(dataset=dataset)

    pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline, item_ids=[item.pk])
    drain()

    assert WorkItem.objects.filter(task=after, item=item).exists()


def test_wait_must_be_true_or_false(api_for, owner_a, dataset, tasks):
    graph = wait_graph(*tasks)
    graph["nodes"][1]["config"]["wait"] = "sometimes"

    response = create(api_for(owner_a), dataset, graph)

    assert response.status_code == 400
    assert "graph.nodes.1.config.wait" in response.json()["errors"]
