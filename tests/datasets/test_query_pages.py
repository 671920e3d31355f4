"""Sorts, keyset pages, their cursors and counts of item queries, against PostgreSQL with real items."""

import functools
import math
from datetime import timedelta

import pytest
from django.core import signing
from django.db import connection

from apps.datasets.models import Item
from apps.datasets.pagination import CURSOR_SALT, fast_count, keyset_page, query_fingerprint
from apps.datasets.query import QueryError, compile_filter, parse_sort

from .factories import DatasetFactory, ItemFactory, at, items_of

# ---------------------------------------------------------------------------------------------------------
# Sorts


def tokens(sort) -> list[str]:
    return [key.token for key in parse_sort(sort)]


@pytest.mark.parametrize(("sort", "expected"), [
    (None, ["created_at:desc", "id:desc"]),
    ([], ["created_at:desc", "id:desc"]),
    (["size"], ["size:asc", "id:asc"]),
    (["-size", {"field": "name", "direction": "asc"}], ["size:desc", "name:asc", "id:asc"]),
    ([{"field": "metadata.camera.iso", "direction": "desc"}], ["metadata.camera.iso:desc", "id:desc"]),
    (["kind", "-created_at", {"field": "duration"}], ["kind:asc", "created_at:desc", "duration:asc", "id:asc"]),
])
def test_sorts_end_with_id_in_the_last_keys_direction(sort, expected):
    assert tokens(sort) == expected


@pytest.mark.parametrize(("sort", "expected"), [
    ("size", ("sort", "expected a list, got 'size'")),
    (["a", "b", "c", "d"], ("sort", "at most 3 sort keys")),
    ([5], ("sort[0]", 'expected a field name or {"field": ..., "direction": ...}, got 5')),
    (["password"], ("sort[0]", "unknown field 'password'")),
    ([{"field": "password"}], ("sort[0].field", "unknown field 'password'")),
    ([{"field": "size", "direction": "up"}], ("sort[0].direction", "expected 'asc' or 'desc', got 'up'")),
    ([{"field": "size", "dir": "asc"}], ("sort[0].dir", "unknown key; use field and direction")),
    (["size", "-size"], ("sort[1]", "field 'size' is sorted on twice")),
    (["-"], ("sort[0]", "unknown field ''")),
])
def test_bad_sorts_name_the_path(sort, expected):
    with pytest.raises(QueryError) as caught:
        parse_sort(sort)

    assert (caught.value.path, caught.value.message) == expected


# ---------------------------------------------------------------------------------------------------------
# Keyset pages over 1,000 items

JSON_RANK = {str: 0, int: 1, float: 1, bool: 2}


def score_of(item):
    """The jsonb order of metadata.score: strings, then numbers, then booleans; JSON null and missing last."""
    value = item.metadata.get("score")
    return None if value is None else (JSON_RANK[type(value)], value)


GETTERS = {
    "created_at": lambda item: item.created_at,
    "size": lambda item: item.size,
    "name": lambda item: item.name,
    "kind": lambda item: item.kind,
    "duration": lambda item: item.duration,
    "metadata.score": score_of,
}


def expected_order(items, sort) -> list[int]:
    keys = [(GETTERS[name.lstrip("-")], name.startswith("-")) for name in sort or ["-created_at"]]
    keys.append((lambda item: item.pk, keys[-1][1]))

    def compare(a, b):
        for getter, descending in keys:
            x, y = getter(a), getter(b)
            if x == y:
                continue
            if x is None or y is None:
                return 1 if x is None else -1
            return (1 if x > y else -1) * (-1 if descending else 1)
        return 0

    return [item.pk for item in sorted(items, key=functools.cmp_to_key(compare))]


def score(i: int):
    if i % 5 == 0:
        return {}
    if i % 5 == 1:
        return {"score": f"s{i % 4}"}
    if i % 5 == 2:
        return {"score": None}
    if i % 10 == 3:
        return {"score": True} if i % 30 == 3 else {"score": i % 9}
    return {"score": (i % 17) / 2}


@pytest.fixture
def thousand(org_a):
    dataset = DatasetFactory(organization=org_a)
    start = at("2024-01-01T00:00")
    Item.objects.bulk_create(
        ItemFactory.build(
            dataset=dataset,
            name=f"n{(i * 13) % 200:03d}",
            kind=Item.Kind.values[i % 6],
            size=None if i % 7 == 0 else (i * 37) % 50,
            duration=None if i % 3 == 0 else (i % 11) / 2,
            created_at=start + timedelta(minutes=i % 100),
            metadata=score(i),
        )
        for i in range(1000)
    )
    return dataset


def walk(qs, sort, page_size) -> tuple[list[int], int]:
    keys = parse_sort(sort)
    walked, cursor, pages = [], None, 0
    while True:
        page = keyset_page(qs, sort=keys, cursor=cursor, page_size=page_size)
        walked += [item.pk for item in page.items]
        pages += 1
        if not page.has_more:
            assert page.next_cursor is None
            return walked, pages
        cursor = page.next_cursor


SORTS = [
    None,
    ["created_at"],
    ["size"],
    ["-size"],
    ["name", "-size"],
    ["-kind", "size", "-duration"],
    ["-duration", "-size"],
    ["duration", "size", "name"],
    ["metadata.score"],
    ["-metadata.score", "name"],
]


@pytest.mark.parametrize("page_size", [7, 500])
@pytest.mark.parametrize("sort", SORTS, ids=[str(s) for s in SORTS])
def test_walking_every_page_yields_the_fully_sorted_list_without_gaps_or_repeats(thousand, sort, page_size):
    qs = items_of(thousand)

    walked, pages = walk(qs, sort, page_size)

    assert walked == expected_order(list(qs), sort)
    assert len(set(walked)) == 1000
    assert pages == math.ceil(1000 / page_size)


def test_walking_a_filtered_query_keeps_to_the_filter(thousand):
    qs = items_of(thousand).filter(compile_filter({"$or": [{"size": {"$lt": 10}}, {"kind": "video"}]}))

    walked, _ = walk(qs, ["-size", "name"], 13)

    assert walked == expected_order(list(qs), ["-size", "name"])
    assert 0 < len(walked) < 1000


def test_a_page_is_one_query_and_two_where_the_sizes_run_out(thousand, django_assert_num_queries):
    qs = items_of(thousand).filter(compile_filter({"kind": "image"}))
    keys = parse_sort(["-size"])
    with_size = qs.filter(size__isnull=False).count()

    with django_assert_num_queries(1):
        first = keyset_page(qs, sort=keys, cursor=None, page_size=with_size - 5)
    with django_assert_num_queries(2):
        crossing = keyset_page(qs, sort=keys, cursor=first.next_cursor, page_size=10)

    assert [item.size is None for item in crossing.items] == [False] * 5 + [True] * 5


def test_an_empty_query_is_one_empty_page(thousand):
    page = keyset_page(items_of(thousand).filter(compile_filter({"size": {"$in": []}})), sort=parse_sort(None),
                       cursor=None, page_size=10)

    assert (page.items, page.next_cursor, page.has_more) == ([], None, False)


# ---------------------------------------------------------------------------------------------------------
# Cursors


def first_cursor(qs, sort=None, page_size=10) -> str:
    return keyset_page(qs, sort=parse_sort(sort), cursor=None, page_size=page_size).next_cursor


def cursor_error(qs, sort, cursor, page_size=10) -> tuple[str, str]:
    with pytest.raises(QueryError) as caught:
        keyset_page(qs, sort=parse_sort(sort), cursor=cursor, page_size=page_size)
    return caught.value.path, caught.value.message


INVALID = ("cursor", "this cursor is not valid; start again from the first page")
OTHER_QUERY = ("cursor", "this cursor belongs to another filter or sort; start again from the first page")


def test_a_tampered_cursor_is_refused(thousand):
    qs = items_of(thousand)
    payload, timestamp, signature = first_cursor(qs, ["size"], page_size=10).split(":")
    other_payload = first_cursor(qs, ["size"], page_size=20).split(":")[0]

    assert cursor_error(qs, ["size"], f"{payload}:{timestamp}:{signature[::-1]}") == INVALID
    assert cursor_error(qs, ["size"], f"{other_payload}:{timestamp}:{signature}") == INVALID
    assert cursor_error(qs, ["size"], "not a cursor") == INVALID
    assert cursor_error(qs, ["size"], "x" * 40_000) == INVALID


def test_a_cursor_signed_for_another_purpose_is_refused(thousand):
    qs = items_of(thousand)
    fingerprint = query_fingerprint(qs, parse_sort(["size"]))

    assert cursor_error(qs, ["size"], signing.dumps({"f": fingerprint, "k": [1, 1]})) == INVALID


def test_a_cursor_whose_values_do_not_fit_the_sort_is_refused(thousand):
    qs = items_of(thousand)
    fingerprint = query_fingerprint(qs, parse_sort(["-created_at"]))
    bad = signing.dumps({"f": fingerprint, "k": ["yesterday", 1]}, salt=CURSOR_SALT, compress=True)

    assert cursor_error(qs, ["-created_at"], bad) == INVALID


def test_a_cursor_from_another_sort_is_refused(thousand):
    qs = items_of(thousand)

    assert cursor_error(qs, ["-size"], first_cursor(qs, ["size"])) == OTHER_QUERY
    assert cursor_error(qs, ["size", "name"], first_cursor(qs, ["size"])) == OTHER_QUERY


def test_a_cursor_from_another_filter_or_dataset_is_refused(thousand, org_a):
    images = items_of(thousand).filter(compile_filter({"kind": "image"}))
    videos = items_of(thousand).filter(compile_filter({"kind": "video"}))
    other = items_of(DatasetFactory(organization=org_a))

    assert cursor_error(videos, None, first_cursor(images)) == OTHER_QUERY
    assert cursor_error(other, None, first_cursor(items_of(thousand))) == OTHER_QUERY


def test_the_same_filter_and_sort_accept_their_cursor(thousand):
    def qs():
        return items_of(thousand).filter(compile_filter({"metadata.score": {"$gte": 2}}))

    cursor = first_cursor(qs(), ["-metadata.score"], page_size=5)
    page = keyset_page(qs(), sort=parse_sort(["-metadata.score"]), cursor=cursor, page_size=5)

    assert len(page.items) == 5


@pytest.mark.parametrize("page_size", [0, 501, -1, True, "10", None])
def test_page_size_is_1_to_500(thousand, page_size):
    with pytest.raises(QueryError) as caught:
        keyset_page(items_of(thousand), sort=parse_sort(None), cursor=None, page_size=page_size)

    assert caught.value.path == "page_size"


# ---------------------------------------------------------------------------------------------------------
# Counts


def test_fast_count_past_the_limit_is_the_planners_estimate(thousand):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE datasets_item")

    count, exact = fast_count(items_of(thousand), exact_up_to=100)

    assert exact is False
    assert count > 100
