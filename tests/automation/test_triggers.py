"""The query and schedule triggers, and what a dataset_version node versions: items that come to match a query (added,
or their metadata changed) start one run each; a schedule fires over the matching items not taken yet, once per
firing however often its message is delivered; a bad setting answers 400 naming its path."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from apps.automation import tasks
from apps.automation.models import Pipeline, PipelineRun, TriggeredItem
from apps.automation.pipeline_triggers import parse_cron
from apps.automation.pipelines import pipeline_create, pipeline_update, validate_graph
from apps.core.models import OutboxMessage
from apps.datasets.intake import items_upload
from apps.datasets.models import DatasetVersion, Item
from apps.datasets.services import item_update, items_bulk_update
from tests.automation.factories import png_bytes
from tests.automation.test_pipelines import drain
from tests.datasets.factories import DatasetFactory, ItemFactory

ACTORS = {a.actor_name: a for group in (tasks.START_TRIGGERED, tasks.FIRE_SCHEDULED, tasks.SCAN_TRIGGER)
          for a in group.values()}


@pytest.fixture
def dataset(org_a):
    return DatasetFactory(organization=org_a)


def graph(trigger: dict, **version) -> dict:
    return {"nodes": [{"id": "when", "type": "trigger", "config": trigger},
                      {"id": "snapshot", "type": "dataset_version", "config": {"message": "Matched", **version}}],
            "edges": [{"from": "when", "to": "snapshot"}]}


def deliver(prefix: str) -> int:
    """Delivers the outbox's messages of these actors (each once, in order); returns how many."""
    rows = list(OutboxMessage.objects.filter(actor_name__startswith=prefix, sent_at__isnull=True)
                .order_by("created_at", "id"))
    for row in rows:
        ACTORS[row.actor_name].fn(*row.args, **row.kwargs)
        OutboxMessage.objects.filter(pk=row.pk).update(sent_at=timezone.now())
    return len(rows)


def upload(org, actor, dataset, names):
    files = [SimpleUploadedFile(f"{n}.png", png_bytes(Image.new("RGB", (8, 8), "white")), content_type="image/png")
             for n in names]
    return items_upload(org=org, actor=actor, dataset=dataset, files=files)


def runs_of(pipeline):
    return list(PipelineRun.objects.filter(pipeline=pipeline).order_by("id"))


# --- query ------------------------------------------------------------------------------------------------------


def test_an_item_whose_metadata_comes_to_match_starts_one_run(org_a, owner_a, dataset):
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Camera A", dataset=dataset,
                               graph=graph({"kind": "query", "query": {"metadata.camera": "A"}}))
    first, second = upload(org_a, owner_a.user, dataset, ["first", "second"])
    assert deliver("start_triggered_run") == 0  # added, but nothing matches yet

    item_update(org=org_a, actor=owner_a.user, item=first, metadata_patch={"camera": "A"})
    item_update(org=org_a, actor=owner_a.user, item=first, metadata_patch={"camera": "A", "seen": True})
    item_update(org=org_a, actor=owner_a.user, item=second, metadata_patch={"camera": "B"})
    deliver("start_triggered_run")
    drain()

    (run,) = runs_of(pipeline)
    assert run.trigger == {"kind": "query", "item_ids": [first.pk]}
    assert run.status == "done"


def test_items_added_that_match_the_query_fire_and_the_others_do_not(org_a, owner_a, dataset):
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Cats", dataset=dataset,
                               graph=graph({"kind": "query", "query": {"name": {"$contains": "cat"}}}))

    items = upload(org_a, owner_a.user, dataset, ["cat-1", "dog-1", "cat-2"])
    deliver("start_triggered_run")

    (run,) = runs_of(pipeline)
    assert sorted(run.trigger["item_ids"]) == sorted(i.pk for i in items if i.name.startswith("cat"))


def test_a_bulk_change_queues_a_scan_that_records_the_matching_items(org_a, owner_a, dataset):
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Reviewed", dataset=dataset,
                               graph=graph({"kind": "query", "query": {"metadata.reviewed": True}}))
    items = upload(org_a, owner_a.user, dataset, ["a", "b", "c"])
    chosen = Item.objects.filter(pk__in=[items[0].pk, items[2].pk])
    items_bulk_update(org=org_a, actor=owner_a.user, dataset=dataset, items=chosen, set_metadata={"reviewed": True})

    assert deliver("scan_trigger_matches") == 1
    assert deliver("scan_trigger_matches") == 0
    deliver("start_triggered_run")

    assert sorted(TriggeredItem.objects.filter(pipeline=pipeline).values_list("item_id", flat=True)) == [
        items[0].pk, items[2].pk]
    assert len(runs_of(pipeline)) == 1


# --- schedule ---------------------------------------------------------------------------------------------------


def make_due(pipeline):
    Pipeline.objects.filter(pk=pipeline.pk).update(next_fire_at=timezone.now() - timedelta(seconds=1))


def test_a_schedule_fires_over_the_matching_items_not_taken_yet(org_a, owner_a, dataset):
    old = [ItemFactory(dataset=dataset, metadata={"camera": "A"}) for _ in range(2)]
    ItemFactory(dataset=dataset, metadata={"camera": "B"})
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Hourly", dataset=dataset,
                               graph=graph({"kind": "schedule", "every": "1h", "query": {"metadata.camera": "A"}}))
    pipeline.refresh_from_db()
    assert timedelta(minutes=59) < pipeline.next_fire_at - timezone.now() <= timedelta(hours=1)

    make_due(pipeline)
    tasks.sweep_scheduled_pipelines()
    deliver("fire_scheduled_pipeline")
    deliver("start_triggered_run")
    drain()
    new = ItemFactory(dataset=dataset, metadata={"camera": "A"})
    make_due(pipeline)
    tasks.sweep_scheduled_pipelines()
    deliver("fire_scheduled_pipeline")
    deliver("start_triggered_run")

    first, second = runs_of(pipeline)
    assert first.trigger == {"kind": "schedule", "item_ids": sorted(i.pk for i in old)}
    assert first.status == "done" and first.result["versions"][0]["number"] == 1
    assert second.trigger["item_ids"] == [new.pk]
    pipeline.refresh_from_db()
    assert pipeline.next_fire_at > timezone.now()


def test_a_redelivered_firing_fires_once(org_a, owner_a, dataset):
    ItemFactory(dataset=dataset)
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Daily", dataset=dataset,
                               graph=graph({"kind": "schedule", "cron": "0 6 * * *"}))
    make_due(pipeline)
    tasks.sweep_scheduled_pipelines()
    tasks.sweep_scheduled_pipelines()  # the sweep came round again before a worker took the first message

    assert deliver("fire_scheduled_pipeline") == 2
    assert deliver("start_triggered_run") == 1
    assert len(runs_of(pipeline)) == 1


def test_a_disabled_schedule_does_not_fire(org_a, owner_a, dataset):
    ItemFactory(dataset=dataset)
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Paused", dataset=dataset,
                               graph=graph({"kind": "schedule", "every": "15m"}))

    pipeline_update(org=org_a, actor=owner_a.user, pipeline=pipeline, enabled=False)
    tasks.sweep_scheduled_pipelines()

    pipeline.refresh_from_db()
    assert pipeline.next_fire_at is None
    assert deliver("fire_scheduled_pipeline") == 0


def test_a_schedule_does_not_fire_on_items_added(org_a, owner_a, dataset):
    pipeline_create(org=org_a, actor=owner_a.user, name="Nightly", dataset=dataset,
                    graph=graph({"kind": "schedule", "cron": "0 2 * * *"}))

    upload(org_a, owner_a.user, dataset, ["a"])

    assert deliver("start_triggered_run") == 0


@pytest.mark.parametrize(("spec", "after", "expected"), [
    ("*/15 * * * *", datetime(2026, 3, 2, 10, 7, tzinfo=UTC), datetime(2026, 3, 2, 10, 15, tzinfo=UTC)),
    ("0 6 * * 1-5", datetime(2026, 3, 7, 12, 0, tzinfo=UTC), datetime(2026, 3, 9, 6, 0, tzinfo=UTC)),  # Sat -> Mon
    ("30 23 31 * *", datetime(2026, 4, 1, 0, 0, tzinfo=UTC), datetime(2026, 5, 31, 23, 30, tzinfo=UTC)),
    ("0 0 1 * 0", datetime(2026, 3, 2, 0, 0, tzinfo=UTC), datetime(2026, 3, 8, 0, 0, tzinfo=UTC)),  # 1st or Sunday
    ("0 12 29 2 *", datetime(2026, 3, 1, 0, 0, tzinfo=UTC), datetime(2028, 2, 29, 12, 0, tzinfo=UTC)),
])
def test_cron_finds_the_next_matching_minute(spec, after, expected):
    assert parse_cron(spec).next_after(after) == expected


# --- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("trigger", "field", "words"), [
    ({"kind": "schedule"}, "every", "Give either every"),
    ({"kind": "schedule", "every": "1h", "cron": "0 * * * *"}, "every", "not both"),
    ({"kind": "schedule", "every": "90s"}, "every", "An interval such as 15m"),
    ({"kind": "schedule", "every": "45d"}, "every", "From 1m to 31d"),
    ({"kind": "schedule", "cron": "61 * * * *"}, "cron", "The minute field '61' is outside 0-59"),
    ({"kind": "schedule", "cron": "0 6 * *"}, "cron", "Five fields"),
    ({"kind": "schedule", "cron": "0 0 30 2 *"}, "cron", "no day that exists"),
    ({"kind": "query"}, "query", "Required: a filter of the query language"),
    ({"kind": "query", "query": {"size": {"$gt": "big"}}}, "query.size.$gt", "expected"),
    ({"kind": "query", "query": {"metadata.a": 1}, "every": "1h"}, "every", "Not a setting of this kind of trigger"),
])
def test_bad_trigger_settings_are_named(org_a, owner_a, dataset, trigger, field, words):
    with pytest.raises(ValidationError) as caught:
        validate_graph(graph(trigger), org=org_a, actor=owner_a.user, dataset=dataset)

    assert words in caught.value.message_dict[f"graph.nodes.0.config.{field}"][0]


def test_the_api_answers_400_naming_the_cron_field(api_for, owner_a, dataset):
    response = api_for(owner_a).post("/api/v1/pipelines/", {
        "name": "Bad", "dataset_id": dataset.pk, "graph": graph({"kind": "schedule", "cron": "every day"})},
        format="json")

    assert response.status_code == 400
    assert "Five fields" in response.json()["errors"]["graph.nodes.0.config.cron"][0]


# --- what a dataset_version node versions -----------------------------------------------------------------------


def test_a_version_node_says_it_versions_the_whole_dataset_by_default(org_a, owner_a, dataset):
    clean = validate_graph(graph({"kind": "manual"}), org=org_a, actor=owner_a.user, dataset=dataset)

    assert clean["nodes"][1]["config"] == {"message": "Matched", "scope": "dataset"}


def test_a_version_of_scope_filter_holds_the_matching_items(org_a, owner_a, dataset):
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Cats only", dataset=dataset,
                               graph=graph({"kind": "item_added"}, scope="filter",
                                           filter={"name": {"$contains": "cat"}}))

    upload(org_a, owner_a.user, dataset, ["cat", "dog"])
    deliver("start_triggered_run")
    drain()

    (run,) = runs_of(pipeline)
    version = DatasetVersion.objects.get(pk=run.result["versions"][0]["dataset_version_id"])
    assert run.result["versions"][0]["scope"] == "filter"
    assert version.filter == {"name": {"$contains": "cat"}}


@pytest.mark.parametrize(("config", "field", "words"), [
    ({"scope": "everything"}, "scope", "One of dataset, run, filter"),
    ({"filter": {"name": "a"}}, "filter", "Only a version of scope 'filter'"),
    ({"scope": "filter"}, "filter", "Required: a filter"),
    ({"scope": "filter", "filter": {"size": {"$gt": "big"}}}, "filter.size.$gt", "expected"),
])
def test_bad_version_settings_are_named(org_a, owner_a, dataset, config, field, words):
    with pytest.raises(ValidationError) as caught:
        validate_graph(graph({"kind": "manual"}, **config), org=org_a, actor=owner_a.user, dataset=dataset)

    assert words in caught.value.message_dict[f"graph.nodes.1.config.{field}"][0]


# --- what the pages say ------------------------------------------------------------------------------------------


def test_the_list_says_when_a_schedule_fires_next_and_the_run_page_what_fired_it(client, org_a, owner_a, dataset):
    ItemFactory(dataset=dataset)
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Every morning", dataset=dataset,
                               graph=graph({"kind": "schedule", "cron": "0 6 * * *", "folder": "/in"}))
    make_due(pipeline)
    ItemFactory(dataset=dataset, folder="/in")
    tasks.sweep_scheduled_pipelines()
    deliver("fire_scheduled_pipeline")
    deliver("start_triggered_run")
    pipeline.refresh_from_db()
    client.force_login(owner_a.user)

    listing = client.get(f"/o/{org_a.slug}/pipelines/").content.decode()
    run_page = client.get(f"/o/{org_a.slug}/pipeline-runs/{runs_of(pipeline)[0].pk}/").content.decode()

    assert f"At <code>0 6 * * *</code> (UTC), next <time datetime=\"{pipeline.next_fire_at.isoformat()}" in listing
    assert "under /in" in listing
    assert "by its schedule" in run_page
