"""What the suggestion-agreement hook costs a studio save, and that the outcomes it works out in memory are the
ones the database then holds."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.annotations import change_hooks
from apps.annotations.models import Annotation
from apps.automation.agreement import _shared_state, _shared_state_orm, misses_refresh_many
from apps.automation.models import SuggestionOutcome
from apps.automation.services import preannotation_replace
from tests.automation.factories import TEXT_SPEC, registered_classifier
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe

MODEL = {"source": "model", "review_state": "proposed", "confidence": 0.8}
LABELS = ("car", "person", "text")


def box(i: int, label: str, dx: float = 0) -> dict:
    return {"type": "bbox", "label": label, "geometry": {"x": 10 + (i % 20) * 90 + dx, "y": 10 + (i // 20) * 90,
                                                          "w": 60, "h": 40}}


@pytest.fixture
def world(org_a, owner_a, api_for):
    dataset = DatasetFactory(organization=org_a, name="Streets")
    _recipe, recipe_version = published_recipe(org_a, owner_a.user, name="Things", spec=TEXT_SPEC, dataset=dataset)
    version = registered_classifier(org_a, owner_a.user, recipe_version=recipe_version, name="Detector")
    client = api_for(owner_a)

    def item_with(units: int):
        """An item with `units` suggestions, each with a person's box of the same label a little off over it."""
        item = ItemFactory(dataset=dataset, width=1920, height=1080)
        preannotation_replace(org=org_a, actor=owner_a.user, item=item, model_version=version,
                              annotations=[{**box(i, LABELS[i % 3]), **MODEL} for i in range(units)])
        save(item, create=[box(i, LABELS[i % 3], dx=3) for i in range(units)])
        return item

    def save(item, **body):
        response = client.post(f"/api/v1/items/{item.pk}/annotations/changes/", body, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    return {"org": org_a, "actor": owner_a.user, "version": version, "recipe_version": recipe_version,
            "dataset": dataset, "item_with": item_with, "save": save, "client": client}


@pytest.fixture
def hook_queries(monkeypatch):
    """The queries each call of the change listeners ran, one list per save."""
    calls = []
    listeners = list(change_hooks.LISTENERS)

    def counted(**kwargs):
        with CaptureQueriesContext(connection) as captured:
            for listener in listeners:
                listener(**kwargs)
        calls.append([q["sql"] for q in captured.captured_queries])

    monkeypatch.setattr(change_hooks, "LISTENERS", [counted])
    return calls


def suggestions(item, **extra):
    return list(Annotation.objects.filter(item=item, source="model", **extra).order_by("id"))


def ref(annotation):
    annotation.refresh_from_db()
    return {"id": annotation.pk, "version": annotation.version}


def outcomes(item) -> list[tuple]:
    return sorted(SuggestionOutcome.objects.filter(item=item, layer__isnull=True).values_list(
        "model_version_id", "suggestion_id", "annotation_id", "outcome"), key=str)


@pytest.mark.parametrize("kind,queries", [
    # one read, the outcome rows of the suggestions resolved, the misses the people's boxes over them became
    ("accept one", 3), ("accept all", 3),
    # one read, the rejection (the people's boxes still match the rejected suggestions: no miss changes)
    ("reject one", 2)])
def test_the_hooks_queries_do_not_grow_with_the_items_suggestions_and_shapes(world, hook_queries, kind, queries):
    counts = []
    for units in (2, 40):
        item = world["item_with"](units)
        hook_queries.clear()
        if kind == "accept one":
            world["save"](item, update=[{**ref(suggestions(item)[0]), "review_state": ""}])
        elif kind == "accept all":
            world["save"](item, update=[{**ref(a), "review_state": ""} for a in suggestions(item)])
        else:
            world["save"](item, delete=[ref(suggestions(item)[0])])
        counts.append(len(hook_queries[0]))

    assert counts == [queries, queries]


def test_the_hook_of_a_save_on_an_item_without_suggestions_reads_once_and_writes_nothing(world, hook_queries):
    item = ItemFactory(dataset=world["dataset"], width=1920, height=1080)

    world["save"](item, create=[box(i, "car") for i in range(30)])

    assert len(hook_queries) == 1 and len(hook_queries[0]) == 1


def test_deleting_an_accepted_suggestion_gives_its_shape_back_to_the_misses_pool(world):
    item = world["item_with"](1)  # a car suggestion and a person's car box over it
    car = suggestions(item)[0]
    world["save"](item, update=[{**ref(car), "review_state": ""}])
    assert [row[3] for row in outcomes(item)] == ["accepted", "missed"]  # the person's box: nothing proposed there

    world["save"](item, delete=[ref(car)])

    assert [row[3] for row in outcomes(item)] == ["rejected"]  # the rejected car is what the model got there


def test_the_outcomes_a_sequence_of_saves_records_are_those_a_fresh_recompute_finds(world, org_a, owner_a):
    item = world["item_with"](6)
    other = registered_classifier(org_a, owner_a.user, recipe_version=world["recipe_version"], name="Other")
    preannotation_replace(org=org_a, actor=owner_a.user, item=item, model_version=other,
                          annotations=[{**box(i, "car", dx=1), **MODEL} for i in (0, 3, 7)])
    mine = suggestions(item)[:6]
    people = list(Annotation.objects.filter(item=item).exclude(source="model").order_by("id"))
    saves = [  # each read when it is sent, as the studio sends what it last read
        lambda: {"update": [{**ref(mine[0]), "review_state": ""}]},  # accepted
        lambda: {"update": [{**ref(mine[1]), "review_state": "", "label": "car"}]},  # edited
        lambda: {"delete": [ref(mine[2])]},  # rejected
        lambda: {"create": [{**box(2, LABELS[2]), **MODEL, "recipe_version": world["recipe_version"].pk}]},  # undone
        lambda: {"update": [{**ref(mine[0]), "review_state": "proposed"}],  # undone, and a person's box deleted
                 "delete": [ref(people[4])]},
        lambda: {"update": [{**ref(people[5]), "geometry": {"x": 1500, "y": 900, "w": 30, "h": 30}}]},  # moved
        lambda: {"update": [{**ref(mine[1]), "geometry": {"x": 100, "y": 10, "w": 60, "h": 40}}]},  # edited again
        lambda: {"delete": [ref(mine[1])]},  # an accepted one deleted: rejected
        lambda: {"update": [{**ref(a), "review_state": ""} for a in suggestions(item, review_state="proposed")]},
    ]
    seen = set()
    for body in saves:
        world["save"](item, **body())
        recorded = outcomes(item)
        seen |= {row[3] for row in recorded}

        misses_refresh_many(org=org_a, items=[item], at=timezone.now())

        assert outcomes(item) == recorded
    assert seen == {"accepted", "edited", "rejected", "missed"}


def test_the_one_query_read_gives_what_the_orm_reads_give(world, org_a, owner_a):
    item = world["item_with"](5)
    other = registered_classifier(org_a, owner_a.user, recipe_version=world["recipe_version"], name="Other")
    preannotation_replace(org=org_a, actor=owner_a.user, item=item, model_version=other,
                          annotations=[{**box(1, "person", dx=2), **MODEL}])
    mine = suggestions(item)
    moved = box(1, "person", dx=9)["geometry"]
    world["save"](item, update=[{**ref(mine[0]), "review_state": ""},
                                {**ref(mine[1]), "review_state": "", "geometry": moved}], delete=[ref(mine[2])])
    saved = {mine[1].pk, mine[3].pk, mine[4].pk}  # a resolved one, open ones

    state = _shared_state(org=org_a, item=item, suggestion_ids=saved)  # the embedded demo's SQLite reads the ORM's
    orm = _shared_state_orm(org=org_a, item=item, suggestion_ids=saved)

    assert [(r.pk, r.model_version_id, r.annotation_ids) for r in state.records] == [
        (r.pk, r.model_version_id, r.annotation_ids) for r in orm.records]
    assert (state.outcomes, state.suggested, state.annotations) == (orm.outcomes, orm.suggested, orm.annotations)
    assert {o["outcome"] for o in state.outcomes} == {"accepted", "edited", "rejected", "missed"}
    assert sorted(state.suggested) == sorted(saved) and len(state.annotations) == 10


def test_undoing_a_rejection_that_two_rejections_share_withdraws_the_earlier_one(world, org_a, owner_a):
    item = world["item_with"](0)
    other = registered_classifier(org_a, owner_a.user, recipe_version=world["recipe_version"], name="Other")
    for version in (world["version"], other):  # both versions suggest the same box
        preannotation_replace(org=org_a, actor=owner_a.user, item=item, model_version=version,
                              annotations=[{**box(0, "car"), **MODEL}])
    first, second = suggestions(item)
    world["save"](item, update=[{**ref(first), "review_state": ""}])
    world["save"](item, delete=[ref(second)])
    world["save"](item, delete=[ref(first)])  # accepted, then deleted: rejected after the other one

    world["save"](item, create=[{**box(0, "car"), **MODEL, "recipe_version": world["recipe_version"].pk}])

    # The content names both; the first recorded rejection (the first version's) is the one withdrawn.
    assert [(row[0], row[3]) for row in outcomes(item)] == [(other.pk, "rejected")]
