"""Active learning in the route node: the least sure items are served first by /next/, the sure ones are accepted
with a sampled share sent to review, disagreement counts, and a bad setting answers 400 naming its path."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.annotations.models import Annotation
from apps.automation import pipeline_engine
from apps.automation.models import NodeRun
from apps.automation.pipeline_nodes import item_uncertainty, qa_sampled
from apps.automation.pipelines import pipeline_create
from apps.automation.services import model_create, model_version_register
from apps.datasets.intake import items_upload
from apps.workforce.models import WorkItem
from apps.workforce.services import task_create
from tests.automation.factories import TEXT_SPEC, png_bytes, registered_classifier
from tests.automation.test_pipelines import drain, errors_of
from tests.datasets.factories import DatasetFactory
from tests.recipes.factories import published_recipe

# Grey levels the tiny classifier is more and less sure of: "car" at ~1.0, 0.99, 0.83; black 1/3 (a three-way tie).
SHADES = (("white", (255, 255, 255)), ("light", (160, 160, 160)), ("mid", (64, 64, 64)), ("black", (0, 0, 0)))


@pytest.fixture
def dataset(org_a):
    return DatasetFactory(organization=org_a)


@pytest.fixture
def shades(org_a, owner_a, dataset):
    """Uploaded surest first, so the least sure item has the highest id (id order is the opposite of doubt)."""
    files = [SimpleUploadedFile(f"{name}.png", png_bytes(Image.new("RGB", (32, 32), colour)), content_type="image/png")
             for name, colour in SHADES]
    items = items_upload(org=org_a, actor=owner_a.user, dataset=dataset, files=files)
    return {i.name.removesuffix(".png"): i for i in items}


@pytest.fixture
def version(org_a, owner_a, text_recipe):
    return registered_classifier(org_a, owner_a.user, recipe_version=text_recipe[1])


def make_task(org, owner, dataset, recipe_version, name):
    return task_create(org=org, actor=owner.user, dataset=dataset, recipe_version=recipe_version, name=name,
                       query={"metadata.never": "matches"}, members=[{"user_id": owner.user_id, "role": "annotator"}])


@pytest.fixture
def people(org_a, owner_a, dataset, text_recipe):
    return make_task(org_a, owner_a, dataset, text_recipe[1], "Label the unsure ones")


@pytest.fixture
def review(org_a, owner_a, dataset, text_recipe):
    return make_task(org_a, owner_a, dataset, text_recipe[1], "Spot-check the accepted ones")


def graph_for(version, people, **route):
    return {
        "nodes": [{"id": "start", "type": "trigger", "config": {"kind": "manual"}},
                  {"id": "predict", "type": "predict", "config": {"model_version_id": version.pk}},
                  {"id": "route", "type": "route", "config": {"accept_threshold": 0.9, **route}},
                  {"id": "people", "type": "human_task", "config": {"task_id": people.pk}}],
        "edges": [{"from": "start", "to": "predict"}, {"from": "predict", "to": "route"},
                  {"from": "route", "to": "people", "when": "human"}],
    }


def run_over(org, owner, dataset, graph, items, name="Active learning"):
    pipeline = pipeline_create(org=org, actor=owner.user, name=name, dataset=dataset, graph=graph)
    run = pipeline_engine.pipeline_run_start(org=org, actor=owner.user, pipeline=pipeline,
                                             item_ids=[i.pk for i in items])
    drain()
    run.refresh_from_db()
    return run


def test_next_serves_the_least_confident_unit_first(org_a, owner_a, api_for, dataset, shades, version, people):
    run_over(org_a, owner_a, dataset, graph_for(version, people, accept_threshold=1.0), shades.values())
    client = api_for(owner_a)

    served = []
    for _ in range(4):
        unit = client.post(f"/api/v1/tasks/{people.pk}/next/", {}, format="json").json()
        served.append(unit["item_name"])
        client.post(f"/api/v1/work-items/{unit['id']}/submit/")

    assert served == ["black.png", "mid.png", "light.png", "white.png"]


def test_a_human_task_straight_after_predict_also_serves_the_least_confident_first(org_a, owner_a, api_for, dataset,
                                                                                    shades, version, people):
    graph = graph_for(version, people)
    graph["nodes"] = [n for n in graph["nodes"] if n["id"] != "route"]
    graph["edges"] = [{"from": "start", "to": "predict"}, {"from": "predict", "to": "people"}]
    run_over(org_a, owner_a, dataset, graph, shades.values())

    unit = api_for(owner_a).post(f"/api/v1/tasks/{people.pk}/next/", {}, format="json").json()

    assert unit["item_name"] == "black.png"


def test_the_route_records_each_items_uncertainty_on_its_unit(org_a, owner_a, dataset, shades, version, people):
    run = run_over(org_a, owner_a, dataset, graph_for(version, people), shades.values())

    routed = {r.item_id: r.output for r in NodeRun.objects.filter(run=run, node_id="route")}
    units = dict(WorkItem.objects.filter(task=people).values_list("item_id", "uncertainty"))

    assert routed[shades["white"].pk]["branch"] == "accept"
    assert set(units) == {shades["mid"].pk, shades["black"].pk}
    assert units[shades["black"].pk] == pytest.approx(routed[shades["black"].pk]["uncertainty"])
    assert units[shades["black"].pk] == pytest.approx(2 / 3, abs=1e-3)
    assert units[shades["black"].pk] > units[shades["mid"].pk] > 0


def test_a_unit_of_higher_priority_still_comes_before_a_more_uncertain_one(org_a, owner_a, api_for, dataset, shades,
                                                                            version, people):
    run_over(org_a, owner_a, dataset, graph_for(version, people, accept_threshold=1.0), shades.values())
    WorkItem.objects.filter(task=people, item=shades["white"]).update(priority=1)

    unit = api_for(owner_a).post(f"/api/v1/tasks/{people.pk}/next/", {}, format="json").json()

    assert unit["item_name"] == "white.png"


def test_confident_items_are_accepted_and_a_sampled_share_goes_to_review(org_a, owner_a, dataset, version, people,
                                                                         review):
    files = [SimpleUploadedFile(f"w{n}.png", png_bytes(Image.new("RGB", (32, 32), "white")), content_type="image/png")
             for n in range(40)]
    items = items_upload(org=org_a, actor=owner_a.user, dataset=dataset, files=files)
    graph = graph_for(version, people, qa_rate=0.25, qa_task_id=review.pk)
    graph["nodes"].append({"id": "snapshot", "type": "dataset_version", "config": {"message": "Accepted"}})
    graph["edges"].append({"from": "route", "to": "snapshot", "when": "accept"})

    run = run_over(org_a, owner_a, dataset, graph, items)

    sampled = {i.pk for i in items if qa_sampled("route", i.pk, 0.25)}
    assert 0 < len(sampled) < len(items)
    assert set(WorkItem.objects.filter(task=review).values_list("item_id", flat=True)) == sampled
    assert not WorkItem.objects.filter(task=people).exists()
    assert set(NodeRun.objects.filter(run=run, node_id="snapshot").values_list("item_id", flat=True)) == {
        i.pk for i in items} - sampled
    assert not Annotation.objects.filter(item__in=items, review_state="proposed").exists()  # all accepted
    assert run.status == "done"


def swapped_classifier(org, owner, recipe_version):
    """The same tiny network with its labels swapped: it calls the white image "person" where the other says "car"."""
    from tests.automation.factories import CLASSIFIER_SPEC, classifier, to_bytes, upload

    model = model_create(org=org, actor=owner.user, name="Swapped", task_type="classification",
                         recipe=recipe_version.recipe)
    return model_version_register(org=org, actor=owner.user, model=model, file=upload(to_bytes(classifier(3))),
                                  input_spec=CLASSIFIER_SPEC, decoder={"kind": "softmax", "top_k": 1},
                                  label_map={"0": "car", "1": "person"}, recipe_version=recipe_version)


def two_versions_graph(version, other, people, **route):
    """other predicts first (its suggestions are kept per item), then version; the route compares the two."""
    graph = graph_for(version, people, accept_threshold=0.5, compare_model_version_id=other.pk, **route)
    graph["nodes"].insert(1, {"id": "other", "type": "predict", "config": {"model_version_id": other.pk}})
    graph["edges"] = [{"from": "start", "to": "other"}, {"from": "other", "to": "predict"}, *graph["edges"][1:]]
    return graph


def test_a_confident_item_two_versions_disagree_on_goes_to_people_first(org_a, owner_a, dataset, shades, version,
                                                                         people, text_recipe):
    other = swapped_classifier(org_a, owner_a, text_recipe[1])
    graph = two_versions_graph(version, other, people, disagreement_threshold=0.5)

    run = run_over(org_a, owner_a, dataset, graph, [shades["white"], shades["black"]])

    output = NodeRun.objects.get(run=run, node_id="route", item=shades["white"]).output
    assert output["branch"] == "human" and output["disagreement"] == 1.0
    assert WorkItem.objects.get(task=people, item=shades["white"]).uncertainty == 1.0


def test_without_a_disagreement_threshold_disagreement_only_orders_the_queue(org_a, owner_a, dataset, shades,
                                                                             version, people, text_recipe):
    other = swapped_classifier(org_a, owner_a, text_recipe[1])

    run = run_over(org_a, owner_a, dataset, two_versions_graph(version, other, people), [shades["white"]])

    assert NodeRun.objects.get(run=run, node_id="route").output["branch"] == "accept"


def test_uncertainty_counts_a_small_margin_and_spread_boxes():
    close = [{"label": "car", "confidence": 0.5, "type": "classification"},
             {"label": "person", "confidence": 0.45, "type": "classification"}]
    boxes = [{"label": "car", "confidence": 0.95, "type": "box"}, {"label": "car", "confidence": 0.35, "type": "box"}]

    assert item_uncertainty(close)["parts"] == {"confidence": 0.5, "margin": 0.95}
    assert item_uncertainty(boxes)["parts"] == {"confidence": 0.05, "spread": 0.6}
    assert item_uncertainty(boxes)["uncertainty"] == 0.6
    assert item_uncertainty([])["uncertainty"] == 1.0


@pytest.fixture
def context(org_a, owner_a, dataset):
    return {"org": org_a, "actor": owner_a.user, "dataset": dataset}


@pytest.mark.parametrize(("route", "field", "words"), [
    ({"qa_rate": 1.5}, "qa_rate", "A number from 0 to 1."),
    ({"qa_rate": 0.1}, "qa_task_id", "Required with a qa_rate above 0"),
    ({"qa_rate": 0.1, "qa_task_id": 999_999}, "qa_task_id", "No such task: 999999."),
    ({"disagreement_threshold": "high"}, "disagreement_threshold", "A number from 0 to 1."),
    ({"compare_model_version_id": 999_999}, "compare_model_version_id", "No such model version: 999999."),
    ({"uncertainty_bonus": 1}, "uncertainty_bonus", "Unknown setting for this node type."),
])
def test_bad_route_settings_are_named(context, version, people, route, field, words):
    errors = errors_of(graph_for(version, people, **route), **context)

    assert words in errors[f"graph.nodes.2.config.{field}"][0]


def test_a_review_task_of_another_tenant_is_unknown_through_the_api(api_for, owner_a, org_b, owner_b, dataset,
                                                                     version, people):
    _recipe, theirs = published_recipe(org_b, owner_b.user, name="Theirs", spec=TEXT_SPEC)
    foreign = make_task(org_b, owner_b, DatasetFactory(organization=org_b), theirs, "Theirs")
    graph = graph_for(version, people, qa_rate=0.5, qa_task_id=foreign.pk)

    response = api_for(owner_a).post("/api/v1/pipelines/", {"name": "AL", "dataset_id": dataset.pk, "graph": graph},
                                     format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"]["graph.nodes.2.config.qa_task_id"] == [f"No such task: {foreign.pk}."]
