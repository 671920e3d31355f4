"""Pipelines: the graph validator, and runs trigger -> predict -> route -> human task / accept, executed by calling the
actors of the outbox's messages in-process, redelivered, failed and retried."""

import contextlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.annotations.models import Annotation
from apps.automation import pipeline_engine, pipeline_nodes, tasks
from apps.automation.models import NodeRun, PipelineRun
from apps.automation.pipelines import pipeline_create, validate_graph
from apps.compliance.models import AuditEvent
from apps.core.models import OutboxMessage
from apps.datasets.intake import items_upload
from apps.workforce.models import WorkItem
from apps.workforce.services import task_create
from tests.automation.factories import png_bytes, registered_classifier
from tests.datasets.factories import DatasetFactory

ACTORS = {a.actor_name: a for by_region in tasks.RUN_NODE.values() for a in by_region.values()}


@pytest.fixture
def dataset(org_a):
    return DatasetFactory(organization=org_a)


@pytest.fixture
def photos(org_a, owner_a, dataset):
    """(bright, dark): the tiny classifier says "car" at ~1.0 on the bright one and "person" at 1/3 on the dark."""
    files = [SimpleUploadedFile(f"{name}.png", png_bytes(Image.new("RGB", (32, 32), colour)), content_type="image/png")
             for name, colour in (("bright", "white"), ("dark", "black"))]
    items = items_upload(org=org_a, actor=owner_a.user, dataset=dataset, files=files)
    return sorted(items, key=lambda i: i.name)


@pytest.fixture
def version(org_a, owner_a, text_recipe):
    return registered_classifier(org_a, owner_a.user, recipe_version=text_recipe[1])


@pytest.fixture
def task(org_a, owner_a, dataset, text_recipe):
    return task_create(org=org_a, actor=owner_a.user, dataset=dataset, recipe_version=text_recipe[1],
                       name="Check the unsure ones", query={"metadata.never": "matches"},
                       members=[{"user_id": owner_a.user_id, "role": "annotator"}])


def graph_for(version, task, *, threshold=0.5):
    return {
        "nodes": [{"id": "start", "type": "trigger", "config": {"kind": "manual"}},
                  {"id": "predict", "type": "predict", "config": {"model_version_id": version.pk,
                                                                  "score_threshold": 0.1}},
                  {"id": "route", "type": "route", "config": {"accept_threshold": threshold}},
                  {"id": "people", "type": "human_task", "config": {"task_id": task.pk}}],
        "edges": [{"from": "start", "to": "predict"}, {"from": "predict", "to": "route"},
                  {"from": "route", "to": "people", "when": "human"}],
    }


def drain():
    """Delivers every pipeline message of the outbox (and those they queue) to its actor; returns the rows."""
    delivered = []
    while True:
        rows = list(OutboxMessage.objects.filter(actor_name__startswith="run_pipeline_node")
                    .exclude(pk__in=[r.pk for r in delivered]).order_by("created_at", "id"))
        if not rows:
            return delivered
        for row in rows:
            ACTORS[row.actor_name].fn(*row.args, **row.kwargs)
            delivered.append(row)


def errors_of(graph, **context):
    with pytest.raises(ValidationError) as caught:
        validate_graph(graph, **context)
    return caught.value.message_dict


# --- the validator --------------------------------------------------------------------------------------------


@pytest.fixture
def context(org_a, owner_a, dataset):
    return {"org": org_a, "actor": owner_a.user, "dataset": dataset}


def test_a_valid_graph_comes_back_cleaned(context, version, task):
    clean = validate_graph(graph_for(version, task), **context)

    assert [n["id"] for n in clean["nodes"]] == ["start", "predict", "route", "people"]
    assert clean["nodes"][1]["config"] == {"model_version_id": version.pk, "score_threshold": 0.1}


def test_an_unknown_node_type_is_named(context, version, task):
    graph = graph_for(version, task)
    graph["nodes"][3]["type"] = "shell_command"

    assert "Unknown node type 'shell_command'" in errors_of(graph, **context)["graph.nodes.3.type"][0]


def test_a_cycle_is_named_by_the_edge_that_closes_it(context, version, task):
    graph = graph_for(version, task)
    graph["edges"].append({"from": "people", "to": "predict"})

    assert "cycle" in errors_of(graph, **context)["graph.edges.3"][0]


def test_a_node_nothing_leads_to_is_refused(context, version, task):
    graph = graph_for(version, task)
    graph["edges"] = graph["edges"][1:]  # predict is no longer fed by the trigger

    errors = errors_of(graph, **context)

    assert "only a trigger may start the graph" in errors["graph.nodes.1"][0]
    assert "leads nowhere" in errors["graph.nodes.0"][0]


def test_a_threshold_outside_zero_to_one_is_named(context, version, task):
    graph = graph_for(version, task, threshold=1.5)

    assert errors_of(graph, **context) == {"graph.nodes.2.config.accept_threshold": ["A number from 0 to 1."]}


def test_another_tenants_model_version_and_task_are_unknown(context, org_b, owner_b, version, task):
    from tests.automation.factories import TEXT_SPEC
    from tests.recipes.factories import published_recipe

    _recipe, foreign_recipe = published_recipe(org_b, owner_b.user, name="Theirs", spec=TEXT_SPEC)
    foreign = registered_classifier(org_b, owner_b.user, recipe_version=foreign_recipe)
    graph = graph_for(foreign, task)
    graph["nodes"][3]["config"]["task_id"] = task.pk + 10_000

    errors = errors_of(graph, **context)

    assert errors["graph.nodes.1.config.model_version_id"] == [f"No such model version: {foreign.pk}."]
    assert errors["graph.nodes.3.config.task_id"] == [f"No such task: {task.pk + 10_000}."]


def test_route_edges_must_say_which_branch(context, version, task):
    graph = graph_for(version, task)
    del graph["edges"][2]["when"]

    assert "one of accept, human" in errors_of(graph, **context)["graph.edges.2.when"][0]


def test_a_route_without_a_prediction_before_it_is_refused(context, version, task):
    graph = {"nodes": [{"id": "start", "type": "trigger", "config": {}},
                       {"id": "route", "type": "route", "config": {"accept_threshold": 0.5}}],
             "edges": [{"from": "start", "to": "route"}]}

    assert "needs a predict node" in errors_of(graph, **context)["graph.nodes.1"][0]


def test_the_api_answers_400_naming_the_node_field(api_for, owner_a, dataset, version, task):
    graph = graph_for(version, task)
    graph["nodes"][1]["config"]["score_threshold"] = "high"

    response = api_for(owner_a).post("/api/v1/pipelines/", {"name": "Pre-label", "dataset_id": dataset.pk,
                                                            "graph": graph}, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "graph.nodes.1.config.score_threshold" in response.json()["errors"]


def test_validate_checks_the_saved_graph_again(api_for, org_a, owner_a, dataset, version, task):
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Pre-label", dataset=dataset,
                               graph=graph_for(version, task))
    client = api_for(owner_a)
    assert client.post(f"/api/v1/pipelines/{pipeline.pk}/validate/", {}, format="json").json()["valid"] is True
    task.delete()

    response = client.post(f"/api/v1/pipelines/{pipeline.pk}/validate/", {}, format="json")

    assert response.status_code == 400 and "graph.nodes.3.config.task_id" in response.json()["errors"]


# --- runs -----------------------------------------------------------------------------------------------------


@pytest.fixture
def pipeline(org_a, owner_a, dataset, version, task):
    return pipeline_create(org=org_a, actor=owner_a.user, name="Pre-label", dataset=dataset,
                           graph=graph_for(version, task))


def test_a_run_accepts_the_sure_item_and_sends_the_unsure_one_to_people(api_for, owner_a, pipeline, photos, task):
    bright, dark = photos
    client = api_for(owner_a)

    response = client.post(f"/api/v1/pipelines/{pipeline.pk}/run/", {"item_ids": [bright.pk, dark.pk]},
                           format="json")
    assert response.status_code == 202
    drain()

    run = client.get(f"/api/v1/pipeline-runs/{response.json()['id']}/").json()
    assert run["status"] == "done" and run["failed"] == []
    assert {k: (v["done"], v["failed"]) for k, v in run["nodes"].items()} == {
        "start": (2, 0), "predict": (2, 0), "route": (2, 0), "people": (1, 0)}
    assert list(Annotation.objects.filter(item=bright).values_list("label", "review_state")) == [("car", "")]
    assert list(Annotation.objects.filter(item=dark).values_list("label", "review_state")) == [
        ("person", "proposed")]
    assert list(WorkItem.objects.filter(task=task).values_list("item_id", flat=True)) == [dark.pk]
    assert AuditEvent.objects.filter(action__in=["pipeline.run_started", "pipeline.run_finished"]).count() == 2


def test_predict_goes_to_the_regional_gpu_queue_and_the_rest_to_default(org_a, owner_a, pipeline, photos):
    pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline, item_ids=[photos[0].pk])

    delivered = drain()

    assert [(r.actor_name, r.queue_name) for r in delivered] == [
        ("run_pipeline_node_gpu__eu", "gpu.eu"), ("run_pipeline_node__eu", "default.eu")]


def test_redelivered_messages_change_nothing(org_a, owner_a, pipeline, photos, task):
    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                             item_ids=[p.pk for p in photos])
    delivered = drain()
    before = (Annotation.objects.count(), NodeRun.objects.count(), WorkItem.objects.count(),
              OutboxMessage.objects.count())

    for row in delivered:  # every message again, as a broker redelivery would
        ACTORS[row.actor_name].fn(*row.args, **row.kwargs)

    assert (Annotation.objects.count(), NodeRun.objects.count(), WorkItem.objects.count(),
            OutboxMessage.objects.count()) == before
    assert set(NodeRun.objects.filter(run=run).values_list("attempts", flat=True)) == {1}


def test_an_interrupted_node_is_done_once_when_its_message_comes_again(org_a, owner_a, pipeline, photos, task):
    pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline, item_ids=[photos[1].pk])
    drain()
    people = NodeRun.objects.get(node_id="people")
    NodeRun.objects.filter(pk=people.pk).update(status="running")  # as if the worker died before it finished
    row = OutboxMessage.objects.get(args__2="people")

    ACTORS[row.actor_name].fn(*row.args)

    assert WorkItem.objects.filter(task=task).count() == 1
    assert NodeRun.objects.get(pk=people.pk).status == "done"


def test_a_failing_node_is_retried_then_failed_and_retryable(api_for, org_a, owner_a, pipeline, photos, task,
                                                             monkeypatch):
    dark = photos[1]

    def broken(ctx, rows):
        raise ConnectionError("the task service is down")

    monkeypatch.setattr(pipeline_nodes, "run_human_task", broken)
    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline, item_ids=[dark.pk])
    with pytest.raises(ConnectionError):
        drain()
    people_message = OutboxMessage.objects.get(args__2="people")
    for _ in range(pipeline_engine.MAX_ATTEMPTS - 1):  # Dramatiq's retries, after their backoff
        with contextlib.suppress(ConnectionError):
            ACTORS[people_message.actor_name].fn(*people_message.args)
    client = api_for(owner_a)
    detail = client.get(f"/api/v1/pipeline-runs/{run.pk}/").json()
    assert detail["status"] == "failed"
    assert [(f["node_id"], f["item_id"], f["attempts"]) for f in detail["failed"]] == [
        ("people", dark.pk, pipeline_engine.MAX_ATTEMPTS)]
    assert "the task service is down" in detail["failed"][0]["error"]
    monkeypatch.undo()

    response = client.post(f"/api/v1/pipeline-runs/{run.pk}/retry-failed/", {}, format="json")
    assert response.status_code == 202 and response.json() == {"queued": 1}
    retry = OutboxMessage.objects.filter(args__2="people").exclude(pk=people_message.pk).get()
    ACTORS[retry.actor_name].fn(*retry.args)

    assert client.get(f"/api/v1/pipeline-runs/{run.pk}/").json()["status"] == "done"
    assert list(WorkItem.objects.filter(task=task).values_list("item_id", flat=True)) == [dark.pk]


def test_a_text_item_fails_alone_and_the_others_go_on(org_a, owner_a, pipeline, photos, dataset):
    note = items_upload(org=org_a, actor=owner_a.user, dataset=dataset,
                        files=[SimpleUploadedFile("note.txt", b"hello", content_type="text/plain")])[0]
    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                             item_ids=[photos[0].pk, note.pk])

    drain()

    failed = NodeRun.objects.get(run=run, status="failed")
    assert (failed.node_id, failed.item_id, failed.attempts) == ("predict", note.pk, 1)
    assert "Not an image" in failed.error
    assert NodeRun.objects.get(run=run, node_id="route").item_id == photos[0].pk
    assert PipelineRun.objects.get(pk=run.pk).status == "failed"


def test_a_run_over_another_tenants_items_is_refused(api_for, owner_a, org_b, pipeline):
    from tests.datasets.factories import ItemFactory

    foreign = ItemFactory(dataset=DatasetFactory(organization=org_b))

    response = api_for(owner_a).post(f"/api/v1/pipelines/{pipeline.pk}/run/", {"item_ids": [foreign.pk]},
                                     format="json")

    assert response.status_code == 400 and "item_ids" in response.json()["errors"]
    assert not PipelineRun.objects.exists()


def test_a_run_by_query_takes_the_matching_items(org_a, owner_a, pipeline, photos):
    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                             query={"name": "dark.png"})

    assert run.item_count == 1
    assert list(NodeRun.objects.filter(run=run, node_id="predict").values_list("item_id", flat=True)) == [
        photos[1].pk]


def test_a_dataset_version_is_made_once_every_item_is_through(org_a, owner_a, dataset, version, task, photos):
    from apps.datasets.models import DatasetVersion

    graph = graph_for(version, task)
    graph["nodes"].append({"id": "snapshot", "type": "dataset_version", "config": {"message": "Pre-labelled"}})
    graph["edges"].append({"from": "route", "to": "snapshot", "when": "accept"})
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="With a version", dataset=dataset, graph=graph)
    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                             item_ids=[p.pk for p in photos])

    drain()

    run.refresh_from_db()
    made = DatasetVersion.objects.get(dataset=dataset)
    assert run.status == "done"
    assert run.result["versions"] == [{"node_id": "snapshot", "dataset_version_id": made.pk, "number": 1,
                                       "scope": "dataset"}]
    assert made.message == "Pre-labelled"


def test_a_switched_off_pipeline_does_not_run(api_for, owner_a, pipeline, photos):
    client = api_for(owner_a)
    assert client.patch(f"/api/v1/pipelines/{pipeline.pk}/", {"enabled": False}, format="json").status_code == 200

    response = client.post(f"/api/v1/pipelines/{pipeline.pk}/run/", {"item_ids": [photos[0].pk]}, format="json")

    assert response.status_code == 400 and "enabled" in response.json()["errors"]


def test_a_version_of_scope_run_holds_only_the_runs_items(org_a, owner_a, dataset, version, task, photos):
    from apps.datasets.models import DatasetVersion
    from apps.datasets.selectors import item_filter

    graph = graph_for(version, task)
    graph["nodes"].append({"id": "snapshot", "type": "dataset_version",
                           "config": {"message": "This run only", "scope": "run"}})
    graph["edges"].append({"from": "route", "to": "snapshot", "when": "accept"})
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Run version", dataset=dataset, graph=graph)
    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                             item_ids=[photos[0].pk])

    drain()

    made = DatasetVersion.objects.get(dataset=dataset)
    assert made.filter == {"pipeline.run": run.pk}
    assert list(item_filter(dataset=dataset, filter=made.filter).values_list("pk", flat=True)) == [photos[0].pk]
    assert len(photos) > 1


def test_the_pipeline_run_fact_names_a_bad_value(dataset):
    from django.core.exceptions import ValidationError

    from apps.datasets.selectors import item_filter

    with pytest.raises(ValidationError) as caught:
        item_filter(dataset=dataset, filter={"pipeline.run": "twelve"})

    assert "filter.pipeline.run" in caught.value.message_dict
