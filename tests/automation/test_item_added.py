"""The item-added trigger: items made ready in a dataset (uploads here) start one run per watching pipeline, once
per item however often the notice or the start message is delivered."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.automation import tasks
from apps.automation.models import NodeRun, PipelineRun, TriggeredItem
from apps.automation.pipeline_engine import items_added_record
from apps.automation.pipelines import pipeline_create, pipeline_update, validate_graph
from apps.core.models import OutboxMessage
from apps.datasets.intake import items_upload
from tests.automation.factories import png_bytes
from tests.automation.test_pipelines import drain
from tests.datasets.factories import DatasetFactory

STARTERS = {a.actor_name: a for a in tasks.START_TRIGGERED.values()}


@pytest.fixture
def dataset(org_a):
    return DatasetFactory(organization=org_a)


def watching(folder=None):
    config = {"kind": "item_added", **({"folder": folder} if folder is not None else {})}
    return {"nodes": [{"id": "new", "type": "trigger", "config": config},
                      {"id": "snapshot", "type": "dataset_version", "config": {"message": "New items"}}],
            "edges": [{"from": "new", "to": "snapshot"}]}


def upload(org, actor, dataset, names, folder="/"):
    files = [SimpleUploadedFile(f"{n}.png", png_bytes(Image.new("RGB", (8, 8), "white")), content_type="image/png")
             for n in names]
    return items_upload(org=org, actor=actor, dataset=dataset, files=files, folder=folder)


def start_messages():
    return list(OutboxMessage.objects.filter(actor_name__startswith="start_triggered_run").order_by("id"))


def deliver(rows):
    for row in rows:
        STARTERS[row.actor_name].fn(*row.args, **row.kwargs)


def test_uploaded_items_start_one_run_that_reaches_the_version(org_a, owner_a, dataset):
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="On arrival", dataset=dataset, graph=watching())
    items = upload(org_a, owner_a.user, dataset, ["a", "b", "c"])

    deliver(start_messages())
    drain()

    run = PipelineRun.objects.get(pipeline=pipeline)
    assert run.trigger["kind"] == "item_added"
    assert sorted(run.trigger["item_ids"]) == sorted(i.pk for i in items)
    assert run.status == PipelineRun.Status.DONE
    assert run.result["versions"][0]["number"] == 1
    assert NodeRun.objects.filter(run=run, node_id="snapshot", status="done").count() == 3


def test_a_redelivered_start_message_starts_no_second_run(org_a, owner_a, dataset):
    pipeline_create(org=org_a, actor=owner_a.user, name="On arrival", dataset=dataset, graph=watching())
    upload(org_a, owner_a.user, dataset, ["a", "b"])
    messages = start_messages()

    deliver(messages)
    deliver(messages)

    assert PipelineRun.objects.count() == 1


def test_a_repeated_notice_for_the_same_items_records_and_queues_nothing(org_a, owner_a, dataset):
    pipeline_create(org=org_a, actor=owner_a.user, name="On arrival", dataset=dataset, graph=watching())
    items = upload(org_a, owner_a.user, dataset, ["a", "b"])
    deliver(start_messages())

    again = items_added_record(org_id=org_a.pk, dataset_id=dataset.pk, item_ids=[i.pk for i in items])

    assert again == 0
    assert len(start_messages()) == 1
    assert TriggeredItem.objects.count() == 2


def test_items_arriving_before_the_worker_runs_share_one_run(org_a, owner_a, dataset):
    pipeline_create(org=org_a, actor=owner_a.user, name="On arrival", dataset=dataset, graph=watching())
    upload(org_a, owner_a.user, dataset, ["a"])
    upload(org_a, owner_a.user, dataset, ["b", "c"])

    deliver(start_messages())

    assert list(PipelineRun.objects.values_list("item_count", flat=True)) == [3]


def test_only_items_under_the_watched_folder_fire(org_a, owner_a, dataset):
    pipeline_create(org=org_a, actor=owner_a.user, name="Incoming", dataset=dataset, graph=watching("/incoming"))
    upload(org_a, owner_a.user, dataset, ["elsewhere"], folder="/incomingx")
    inside = upload(org_a, owner_a.user, dataset, ["deep"], folder="/incoming/today")

    deliver(start_messages())

    assert PipelineRun.objects.get().trigger["item_ids"] == [inside[0].pk]


def test_disabled_and_manual_pipelines_ignore_new_items(org_a, owner_a, dataset):
    off = pipeline_create(org=org_a, actor=owner_a.user, name="Off", dataset=dataset, graph=watching())
    pipeline_update(org=org_a, actor=owner_a.user, pipeline=off, enabled=False)
    manual = watching()
    manual["nodes"][0]["config"] = {"kind": "manual"}
    pipeline_create(org=org_a, actor=owner_a.user, name="By hand", dataset=dataset, graph=manual)

    upload(org_a, owner_a.user, dataset, ["a"])

    assert start_messages() == []
    assert TriggeredItem.objects.count() == 0


def test_another_datasets_items_do_not_fire(org_a, owner_a, dataset):
    pipeline_create(org=org_a, actor=owner_a.user, name="On arrival", dataset=dataset, graph=watching())

    upload(org_a, owner_a.user, DatasetFactory(organization=org_a), ["a"])

    assert start_messages() == []


@pytest.mark.parametrize(("config", "field", "words"), [
    ({"kind": "cron_job"}, "kind", "Unknown trigger 'cron_job'"),
    ({"kind": "item_added", "folder": "/a/../b"}, "folder", "may not contain '..'"),
    ({"kind": "item_added", "folder": 7}, "folder", "A folder path"),
    ({"kind": "manual", "folder": "/a"}, "folder", "Only an item_added, query or schedule trigger"),
])
def test_the_validator_names_a_bad_trigger_setting(org_a, owner_a, dataset, config, field, words):
    graph = watching()
    graph["nodes"][0]["config"] = config

    with pytest.raises(ValidationError) as caught:
        validate_graph(graph, org=org_a, actor=owner_a.user, dataset=dataset)

    assert words in caught.value.message_dict[f"graph.nodes.0.config.{field}"][0]


def test_the_validator_keeps_the_folder_normalised(org_a, owner_a, dataset):
    clean = validate_graph(watching("incoming/"), org=org_a, actor=owner_a.user, dataset=dataset)

    assert clean["nodes"][0]["config"] == {"kind": "item_added", "folder": "/incoming"}


def test_items_unpacked_from_a_zip_import_fire_the_trigger_once_each(org_a, owner_a, dataset):
    from apps.datasets.intake import import_start
    from apps.datasets.models import ImportJob
    from apps.datasets.tasks import run_import_job
    from tests.datasets.conftest import png_bytes as red_png
    from tests.datasets.conftest import upload as named_upload
    from tests.datasets.conftest import zip_bytes

    pipeline_create(org=org_a, actor=owner_a.user, name="Cats", dataset=dataset, graph=watching("/in/cats"))
    archive = zip_bytes({"cats/a.png": red_png(), "dogs/b.png": red_png()})
    job = import_start(org=org_a, actor=owner_a.user, dataset=dataset, upload=named_upload("pets.zip", archive),
                       folder="/in")
    run_import_job.fn(org_a.pk, job.pk)
    run_import_job.fn(org_a.pk, job.pk)  # redelivered: the job is done and nothing fires twice

    deliver(start_messages())

    assert ImportJob.objects.get(pk=job.pk).succeeded == 2
    run = PipelineRun.objects.get()
    assert [TriggeredItem.objects.get(item_id=i).item.name for i in run.trigger["item_ids"]] == ["a.png"]


def test_when_the_author_leaves_items_wait_until_a_manager_takes_the_pipeline_over(org_a, owner_a, dataset,
                                                                                    make_member, api_for):
    from django.test import Client

    from apps.compliance.models import AuditEvent
    from apps.tenancy.roles import Role
    from apps.tenancy.services import membership_remove

    author = make_member(org_a, Role.MANAGER)
    pipeline = pipeline_create(org=org_a, actor=author.user, name="On arrival", dataset=dataset, graph=watching())
    membership_remove(org=org_a, actor=owner_a.user, membership=author)
    upload(org_a, owner_a.user, dataset, ["a", "b"])
    deliver(start_messages())

    assert not PipelineRun.objects.exists()
    assert TriggeredItem.objects.filter(pipeline=pipeline, run__isnull=True).count() == 2
    manager = make_member(org_a, Role.MANAGER)
    assert api_for(manager).get(f"/api/v1/pipelines/{pipeline.pk}/").json()["author_is_member"] is False
    assert [(p["id"], p["author_is_member"]) for p in api_for(manager).get("/api/v1/pipelines/").json()["results"]] \
        == [(pipeline.pk, False)]
    client = Client()
    client.force_login(manager.user)
    page = client.get(f"/o/{org_a.slug}/pipelines/{pipeline.pk}/").content.decode()
    assert "2 items wait for someone to take the pipeline over" in page

    answer = api_for(manager).post(f"/api/v1/pipelines/{pipeline.pk}/take-over/")
    deliver(start_messages()[-1:])
    drain()

    assert answer.status_code == 200 and answer.json()["created_by"] == manager.user.email
    assert api_for(manager).get("/api/v1/pipelines/").json()["results"][0]["author_is_member"] is True
    run = PipelineRun.objects.get(pipeline=pipeline)
    assert run.status == PipelineRun.Status.DONE and run.created_by == manager.user
    assert AuditEvent.objects.filter(action="pipeline.taken_over", target_id=str(pipeline.pk),
                                     actor_user=manager.user).exists()
    again = api_for(manager).post(f"/api/v1/pipelines/{pipeline.pk}/take-over/")
    assert again.status_code == 409


def test_an_annotator_cannot_take_a_pipeline_over(org_a, owner_a, dataset, make_member, api_for):
    from apps.tenancy.roles import Role

    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="On arrival", dataset=dataset, graph=watching())

    answer = api_for(make_member(org_a, Role.ANNOTATOR)).post(f"/api/v1/pipelines/{pipeline.pk}/take-over/")

    assert answer.status_code in (403, 404)
    pipeline.refresh_from_db()
    assert pipeline.created_by == owner_a.user
