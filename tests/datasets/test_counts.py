"""fast_count's default limit: exact up to EXACT_COUNT_LIMIT matching items, the planner's estimate past it."""

import pytest
from django.db import connection

from apps.datasets.models import Item
from apps.datasets.pagination import EXACT_COUNT_LIMIT, fast_count

from .factories import DatasetFactory, ItemFactory


@pytest.fixture
def past_the_limit(org_a):
    dataset = DatasetFactory(organization=org_a)
    Item.objects.bulk_create(
        ItemFactory.build(dataset=dataset, name=f"n{i:05d}.jpg", size=i) for i in range(EXACT_COUNT_LIMIT + 1)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE datasets_item")
    return Item.objects.filter(organization=org_a, dataset=dataset)


def test_the_default_limit_is_5000():
    assert EXACT_COUNT_LIMIT == 5_000


def test_a_count_at_the_limit_is_exact(past_the_limit):
    assert fast_count(past_the_limit.filter(size__lt=EXACT_COUNT_LIMIT)) == (EXACT_COUNT_LIMIT, True)


def test_a_count_past_the_limit_is_an_estimate_above_it(past_the_limit):
    count, exact = fast_count(past_the_limit)

    assert exact is False
    assert count > EXACT_COUNT_LIMIT
