import pytest

from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe


@pytest.fixture
def street(org_a, owner_a):
    """A dataset of org A with the street recipe published and linked, and one 640x480 image item."""
    dataset = DatasetFactory(organization=org_a, name="Streets")
    recipe, version = published_recipe(org_a, owner_a.user, dataset=dataset)
    item = ItemFactory(dataset=dataset, width=640, height=480)
    return {"dataset": dataset, "recipe": recipe, "version": version, "item": item}


def car_box(x=10, y=20, w=100, h=50, **extra):
    return {"type": "bbox", "label": "car", "geometry": {"x": x, "y": y, "w": w, "h": h},
            "attributes": {"colour": "red"}, **extra}
