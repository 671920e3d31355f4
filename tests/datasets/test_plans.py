"""Query plans that keep a million-item dataset fast, checked under row-level security as requests run."""

import pytest
from django.db import connection

from apps.datasets.models import Item
from apps.datasets.query import compile_filter
from apps.tenancy.context import tenant_context

from .factories import DatasetFactory, ItemFactory


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE datasets_item")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("function", ["jsonb_contains", "jsonb_exists"])
def test_the_jsonb_operators_are_leakproof_so_rls_does_not_hide_the_index(db, function):
    with connection.cursor() as cursor:
        cursor.execute("SELECT proleakproof FROM pg_proc WHERE proname = %s", [function])
        assert cursor.fetchone() == (True,), "run scripts/ensure-services.sh (it marks them LEAKPROOF)"


def test_a_metadata_equality_filter_uses_the_gin_index_under_rls(org_a):
    dataset = DatasetFactory(organization=org_a)
    ItemFactory.create_batch(5, dataset=dataset, metadata={"camera": "A"})
    Item.objects.bulk_create(
        Item(organization=org_a, dataset=dataset, kind="image", name=f"{i}.jpg", metadata={"camera": "B", "i": i})
        for i in range(5000)
    )

    matching = compile_filter({"metadata.camera": "A"})

    with tenant_context(org_a):
        text = plan(Item.objects.for_org(org_a).filter(dataset=dataset).filter(matching))

    assert "item_metadata_gin" in text
