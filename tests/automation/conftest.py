import pytest

from tests.automation.factories import TEXT_SPEC
from tests.recipes.factories import published_recipe


@pytest.fixture
def text_recipe(org_a, owner_a):
    """(recipe, version) with labels text, car, person."""
    return published_recipe(org_a, owner_a.user, name="Things", spec=TEXT_SPEC)
