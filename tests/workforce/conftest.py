import pytest

from apps.tenancy.roles import Role
from apps.workforce.services import task_create
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe


@pytest.fixture
def team(org_a, make_member):
    return {
        "annotators": [make_member(org_a, Role.ANNOTATOR) for _ in range(3)],
        "reviewer": make_member(org_a, Role.REVIEWER),
    }


@pytest.fixture
def make_task(org_a, owner_a, team):
    def make(n_items=5, **settings):
        dataset = DatasetFactory(organization=org_a)
        _recipe, version = published_recipe(org_a, owner_a.user, dataset=dataset,
                                            name=f"Recipe for {dataset.name}")
        for i in range(n_items):
            ItemFactory(dataset=dataset, name=f"img-{i:03d}.jpg")
        members = [{"user_id": m.user_id, "role": "annotator"} for m in team["annotators"]]
        members.append({"user_id": team["reviewer"].user_id, "role": "reviewer"})
        return task_create(org=org_a, actor=owner_a.user, dataset=dataset, recipe_version=version,
                           name=f"Task {dataset.name}", members=members, **settings)

    return make
