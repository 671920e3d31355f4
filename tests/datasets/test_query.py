"""The item query language against PostgreSQL with real items (sorts, keyset pages and counts: test_query_pages.py).

The six items of `catalogue` are small enough to check every expected answer by hand:

    name          kind   status  folder       size  width height duration mime        created_at (UTC)   metadata
    cat-01.jpg    image  ready   /train/cats   100   640   480    -       image/jpeg  2024-01-01 00:00   camera A, iso 100, tags [night, city], lens {mm 35, brand Canon}, grid [zero]
    dog-02.png    image  ready   /train/dogs  2000  1920  1080    -       image/png   2024-02-01 00:00   camera B, iso 400, tags [day], lens {mm 50}, grid {"0": zero}
    cat-clip.mp4  video  ready   /val/Cats       -     -     -   12.5     video/mp4   2024-03-01 00:00   camera A, iso "auto", tags []
    bark.wav      audio  pending /val           50     -     -    3.0     audio/wav   2024-04-01 12:00   iso 800.5, flag true, lens "none"
    readme.txt    text   failed  /               0     -     -    -       text/plain  2024-05-01 00:00   {}
    Cat-03.JPG    image  ready   /train/cats  2000   640   480    -       image/jpeg  2024-06-01 00:00   camera null, iso 100, tags [night]
"""  # noqa: E501

import math

import pytest
from django.core.exceptions import ValidationError

from apps.datasets.pagination import fast_count
from apps.datasets.query import (
    ColumnField,
    FieldRegistry,
    JsonPathField,
    QueryError,
    TextType,
    compile_filter,
    parse_sort,
)

from .factories import DatasetFactory, ItemFactory, at, items_of

A, B, C, D, E, F = "cat-01.jpg", "dog-02.png", "cat-clip.mp4", "bark.wav", "readme.txt", "Cat-03.JPG"
ALL = {A, B, C, D, E, F}


ROWS = [
    dict(name=A, kind="image", status="ready", folder="/train/cats", size=100, width=640, height=480, duration=None,
         mime="image/jpeg", created_at=at("2024-01-01T00:00"),
         metadata={"camera": "A", "iso": 100, "tags": ["night", "city"], "lens": {"mm": 35, "brand": "Canon"},
                   "grid": ["zero"]}),
    dict(name=B, kind="image", status="ready", folder="/train/dogs", size=2000, width=1920, height=1080,
         duration=None, mime="image/png", created_at=at("2024-02-01T00:00"),
         metadata={"camera": "B", "iso": 400, "tags": ["day"], "lens": {"mm": 50}, "grid": {"0": "zero"}}),
    dict(name=C, kind="video", status="ready", folder="/val/Cats", size=None, width=None, height=None, duration=12.5,
         mime="video/mp4", created_at=at("2024-03-01T00:00"), metadata={"camera": "A", "iso": "auto", "tags": []}),
    dict(name=D, kind="audio", status="pending", folder="/val", size=50, width=None, height=None, duration=3.0,
         mime="audio/wav", created_at=at("2024-04-01T12:00"), metadata={"iso": 800.5, "flag": True, "lens": "none"}),
    dict(name=E, kind="text", status="failed", folder="/", size=0, width=None, height=None, duration=None,
         mime="text/plain", created_at=at("2024-05-01T00:00"), metadata={}),
    dict(name=F, kind="image", status="ready", folder="/train/cats", size=2000, width=640, height=480, duration=None,
         mime="image/jpeg", created_at=at("2024-06-01T00:00"),
         metadata={"camera": None, "iso": 100, "tags": ["night"]}),
]


@pytest.fixture
def catalogue(org_a, org_b):
    dataset = DatasetFactory(organization=org_a)
    for row in ROWS:
        ItemFactory(dataset=dataset, **row)
    # The same names elsewhere must never leak into the answers.
    ItemFactory(dataset=DatasetFactory(organization=org_a), **ROWS[0])
    ItemFactory(dataset=DatasetFactory(organization=org_b), **ROWS[1])
    return dataset


def matching(dataset, filter) -> set[str]:
    return set(items_of(dataset).filter(compile_filter(filter)).values_list("name", flat=True))


def query_error(filter) -> tuple[str, str]:
    with pytest.raises(QueryError) as caught:
        compile_filter(filter)
    return caught.value.path, caught.value.message


# ---------------------------------------------------------------------------------------------------------
# Every operator on every field type

COLUMN_CASES = [
    # text: name (case-insensitive substring, LIKE wildcards are literal)
    ({"name": D}, {D}),
    ({"name": {"$eq": D}}, {D}),
    ({"name": {"$ne": D}}, ALL - {D}),
    ({"name": {"$in": [D, E, "nope"]}}, {D, E}),
    ({"name": {"$nin": [D, E, "nope"]}}, {A, B, C, F}),
    ({"name": {"$gte": "d"}}, {B, E}),
    ({"name": {"$gt": B}}, {E}),
    ({"name": {"$lt": "dog"}}, {A, C, D, F}),
    ({"name": {"$lte": B}}, ALL - {E}),
    ({"name": {"$contains": "CAT"}}, {A, C, F}),
    ({"name": {"$contains": "_"}}, set()),
    ({"name": {"$contains": "%"}}, set()),
    # text: folder, mime
    ({"folder": "/train/cats"}, {A, F}),
    ({"folder": {"$contains": "cats"}}, {A, C, F}),
    ({"folder": {"$in": ["/val", "/"]}}, {D, E}),
    ({"folder": {"$lt": "/train/d"}}, {A, E, F}),
    ({"mime": {"$contains": "JPEG"}}, {A, F}),
    ({"mime": "image/png"}, {B}),
    # choices: kind, status
    ({"kind": "image"}, {A, B, F}),
    ({"kind": {"$ne": "image"}}, {C, D, E}),
    ({"kind": {"$in": ["video", "audio"]}}, {C, D}),
    ({"kind": {"$nin": ["image"]}}, {C, D, E}),
    ({"status": "pending"}, {D}),
    ({"status": {"$in": ["failed", "pending"]}}, {D, E}),
    # dates: ISO 8601, naive is UTC, offsets honoured
    ({"created_at": "2024-03-01T00:00:00Z"}, {C}),
    ({"created_at": {"$ne": "2024-03-01T00:00:00Z"}}, ALL - {C}),
    ({"created_at": {"$gte": "2024-04-01T12:00:00Z"}}, {D, E, F}),
    ({"created_at": {"$gt": "2024-04-01T12:00:00Z"}}, {E, F}),
    ({"created_at": {"$gt": "2024-04-01T13:00:00+02:00"}}, {D, E, F}),
    ({"created_at": {"$lt": "2024-02-01"}}, {A}),
    ({"created_at": {"$lte": "2024-02-01T00:00:00"}}, {A, B}),
    ({"created_at": {"$in": ["2024-01-01T00:00:00Z", "2024-06-01T02:00:00+02:00"]}}, {A, F}),
    ({"created_at": {"$nin": ["2024-01-01T00:00:00Z"]}}, ALL - {A}),
    # integers with NULLs: size, width, height
    ({"size": 2000}, {B, F}),
    ({"size": 2000.0}, {B, F}),
    ({"size": {"$ne": 2000}}, {A, C, D, E}),
    ({"size": {"$gt": 50}}, {A, B, F}),
    ({"size": {"$gte": 50}}, {A, B, D, F}),
    ({"size": {"$lt": 100}}, {D, E}),
    ({"size": {"$lte": 0}}, {E}),
    ({"size": {"$in": [0, 50]}}, {D, E}),
    ({"size": {"$in": [None, 0]}}, {C, E}),
    ({"size": {"$nin": [2000]}}, {A, C, D, E}),
    ({"size": {"$nin": [None, 2000]}}, {A, D, E}),
    ({"size": {"$in": []}}, set()),
    ({"size": {"$nin": []}}, ALL),
    ({"size": None}, {C}),
    ({"size": {"$ne": None}}, ALL - {C}),
    ({"size": {"$exists": True}}, ALL - {C}),
    ({"size": {"$exists": False}}, {C}),
    ({"size": {"$gt": 2**40}}, set()),
    ({"width": {"$gte": 1000}}, {B}),
    ({"width": {"$exists": False}}, {C, D, E}),
    ({"width": {"$gt": 2**40}}, set()),
    ({"height": {"$lt": 500}}, {A, F}),
    # floats with NULLs: duration
    ({"duration": 12.5}, {C}),
    ({"duration": {"$gt": 3}}, {C}),
    ({"duration": {"$gte": 3}}, {C, D}),
    ({"duration": {"$lt": 100}}, {C, D}),
    ({"duration": {"$lte": 3.0}}, {D}),
    ({"duration": {"$in": [3, 12.5]}}, {C, D}),
]


@pytest.mark.parametrize(("filter", "expected"), COLUMN_CASES, ids=[str(case[0]) for case in COLUMN_CASES])
def test_column_operators_match_the_hand_checked_items(catalogue, filter, expected):
    assert matching(catalogue, filter) == expected


METADATA_CASES = [
    # scalars: equality by containment, types exact
    ({"metadata.camera": "A"}, {A, C}),
    ({"metadata.camera": {"$eq": "A"}}, {A, C}),
    ({"metadata.camera": {"$ne": "A"}}, {B, D, E, F}),
    ({"metadata.camera": {"$in": ["A", "B"]}}, {A, B, C}),
    ({"metadata.camera": {"$nin": ["A"]}}, {B, D, E, F}),
    ({"metadata.camera": {"$in": []}}, set()),
    ({"metadata.camera": {"$nin": []}}, ALL),
    ({"metadata.camera": None}, {F}),
    ({"metadata.camera": {"$ne": None}}, ALL - {F}),
    ({"metadata.camera": {"$exists": True}}, {A, B, C, F}),
    ({"metadata.camera": {"$exists": False}}, {D, E}),
    ({"metadata.iso": 100}, {A, F}),
    ({"metadata.iso": 100.0}, {A, F}),
    ({"metadata.iso": "100"}, set()),
    ({"metadata.iso": 800.5}, {D}),
    ({"metadata.flag": True}, {D}),
    ({"metadata.flag": 1}, set()),
    # ranges compare within one JSON type: "auto" is neither > 200 nor a crash
    ({"metadata.iso": {"$gt": 200}}, {B, D}),
    ({"metadata.iso": {"$gte": 100, "$lte": 400}}, {A, B, F}),
    ({"metadata.iso": {"$lt": 100}}, set()),
    ({"metadata.iso": {"$lt": "b"}}, {C}),
    ({"metadata.iso": {"$gte": "a"}}, {C}),
    ({"metadata.iso": {"$not": {"$gt": 200}}}, {A, C, E, F}),
    ({"$not": {"metadata.iso": {"$gt": 200}}}, {A, C, E, F}),
    # nested paths
    ({"metadata.lens.mm": 35}, {A}),
    ({"metadata.lens.mm": {"$gte": 40}}, {B}),
    ({"metadata.lens.mm": {"$ne": 35}}, ALL - {A}),
    ({"metadata.lens.brand": {"$exists": True}}, {A}),
    ({"metadata.lens.mm": {"$exists": False}}, {C, D, E, F}),
    ({"metadata.lens": "none"}, {D}),
    # arrays and objects: $contains
    ({"metadata.tags": {"$contains": "night"}}, {A, F}),
    ({"metadata.tags": {"$contains": ["night", "city"]}}, {A}),
    ({"metadata.tags": {"$contains": ["night", "day"]}}, set()),
    ({"metadata.tags": "night"}, set()),
    ({"metadata.lens": {"$contains": {"brand": "Canon"}}}, {A}),
    ({"metadata.lens": {"$contains": {"mm": 50}}}, {B}),
    # a key that looks like an array position is still an object key
    ({"metadata.grid.0": "zero"}, {B}),
    ({"metadata.grid.0": {"$gte": "a"}}, {B}),
    ({"metadata.grid.0": {"$exists": True}}, {B}),
    ({"metadata.grid": {"$contains": "zero"}}, {A}),
    # missing keys
    ({"metadata.nothing.deeper": {"$exists": False}}, ALL),
    ({"metadata.nothing": {"$gt": 1}}, set()),
    ({"metadata.nothing": {"$ne": 1}}, ALL),
    ({"metadata.a-b_C.d": {"$exists": False}}, ALL),
]


@pytest.mark.parametrize(("filter", "expected"), METADATA_CASES, ids=[str(case[0]) for case in METADATA_CASES])
def test_metadata_operators_match_the_hand_checked_items(catalogue, filter, expected):
    assert matching(catalogue, filter) == expected


LOGICAL_CASES = [
    ({}, ALL),
    (None, ALL),
    ({"kind": "image", "folder": "/train/cats"}, {A, F}),
    ({"size": {"$gt": 50, "$lt": 2000}}, {A}),
    ({"$and": [{"kind": "image"}, {"size": 2000}]}, {B, F}),
    ({"$or": [{"kind": "video"}, {"metadata.camera": "B"}]}, {B, C}),
    ({"$not": {"kind": "image"}}, {C, D, E}),
    ({"$not": {"size": {"$gt": 50}}}, {C, D, E}),
    ({"size": {"$not": {"$gt": 50}}}, {C, D, E}),
    ({"$not": {"$or": [{"kind": "image"}, {"status": "failed"}]}}, {C, D}),
    ({"$or": [{"$and": [{"kind": "image"}, {"$not": {"metadata.camera": "A"}}]}, {"status": "pending"}]}, {B, D, F}),
    ({"kind": "image", "$or": [{"size": 100}, {"metadata.tags": {"$contains": "day"}}]}, {A, B}),
    ({"$and": [{"$or": [{"name": {"$contains": "cat"}}, {"duration": {"$exists": True}}]},
               {"$not": {"folder": {"$in": ["/val"]}}}]}, {A, C, F}),
]


@pytest.mark.parametrize(("filter", "expected"), LOGICAL_CASES, ids=[str(case[0]) for case in LOGICAL_CASES])
def test_and_or_not_combine_conditions(catalogue, filter, expected):
    assert matching(catalogue, filter) == expected


@pytest.mark.parametrize("filter", [
    {"metadata.iso": {"$gt": 200}},
    {"metadata.lens.mm": {"$exists": True}},
    {"metadata.camera": {"$in": ["A", None]}},
    {"size": {"$lte": 100}},
    {"duration": {"$in": [3, None]}},
])
def test_not_is_the_exact_complement_even_with_missing_keys_and_nulls(catalogue, filter):
    assert matching(catalogue, filter) | matching(catalogue, {"$not": filter}) == ALL
    assert matching(catalogue, filter) & matching(catalogue, {"$not": filter}) == set()


def test_metadata_equality_compiles_to_jsonb_containment(catalogue):
    sql = str(items_of(catalogue).filter(compile_filter({"metadata.lens.mm": 35})).query)

    assert '"metadata" @> ' in sql
    assert '{"lens": {"mm": 35}}' in sql or "{'lens': {'mm': 35}}" in sql


def test_limits_are_inclusive(catalogue):
    fifty = {"$and": [{"size": {"$gte": 0, "$lte": 5000}} for _ in range(25)]}
    eight_deep = {"kind": "image"}
    for _ in range(8):
        eight_deep = {"$not": eight_deep}
    path_of_8 = "metadata." + ".".join("k" * 64 for _ in range(8))

    assert matching(catalogue, fifty) == ALL - {C}
    assert matching(catalogue, eight_deep) == {A, B, F}
    assert matching(catalogue, {path_of_8: {"$exists": False}}) == ALL
    assert matching(catalogue, {"name": {"$in": ["x" * 1000] * 1000}}) == set()


def test_hostile_values_are_only_compared_never_executed(catalogue):
    filters = [{"name": "x'; DROP TABLE datasets_item; --"}, {"metadata.camera": "'); DELETE FROM datasets_item; --"},
               {"metadata.camera": {"$contains": {"a": "\" OR 1=1 --"}}}]

    assert [matching(catalogue, f) for f in filters] == [set(), set(), set()]
    assert items_of(catalogue).count() == 6


# ---------------------------------------------------------------------------------------------------------
# Bad queries: the exact path and message

NESTED_9 = {"kind": "image"}
for _ in range(9):
    NESTED_9 = {"$not": NESTED_9}

ERROR_CASES = [
    ([], ("filter", "expected an object, got a list")),
    ({"password": "x"}, ("filter.password", "unknown field 'password'")),
    ({"name": {"$regex": ".*"}}, ("filter.name.$regex", "operator $regex is not supported")),
    ({"$where": "1 == 1"}, ("filter.$where", "operator $where is not supported")),
    ({"$gt": 5}, ("filter.$gt", 'operator $gt needs a field: {"<field>": {"$gt": ...}}')),
    ({"size": {"$gt": "abc"}}, ("filter.size.$gt", "expected an integer, got 'abc'")),
    ({"size": 1.5}, ("filter.size", "expected an integer, got 1.5")),
    ({"size": True}, ("filter.size", "expected an integer, got true")),
    ({"duration": {"$lt": "abc"}}, ("filter.duration.$lt", "expected a number, got 'abc'")),
    ({"duration": math.nan}, ("filter.duration", "expected a finite number, got NaN")),
    ({"size": {"$in": [1, math.nan]}}, ("filter.size.$in[1]", "expected a finite number, got NaN")),
    ({"metadata.iso": {"$gt": math.inf}}, ("filter.metadata.iso.$gt", "expected a finite number, got Infinity")),
    ({"metadata.iso": -math.inf}, ("filter.metadata.iso", "expected a finite number, got -Infinity")),
    ({"metadata.lens": {"$contains": {"mm": math.nan}}}, ("filter.metadata.lens.$contains.mm",
                                                           "expected a finite number, got NaN")),
    ({"$and": [{"kind": "image"}, {"metadata.camera": {"$gt": True}}]},
     ("filter.$and[1].metadata.camera.$gt", "expected a number or a string, got true")),
    ({"metadata.lens": {"$eq": {"mm": 35}}},
     ("filter.metadata.lens.$eq", "expected a JSON scalar (string, number, true, false or null), got an object")),
    ({"metadata.lens": {"mm": 35}},
     ("filter.metadata.lens.mm",
      "expected an operator such as $eq, got 'mm'; to match part of an object use $contains")),
    ({"metadata.tags": {"$in": [["night"]]}},
     ("filter.metadata.tags.$in[0]", "expected a JSON scalar (string, number, true, false or null), got a list")),
    ({"kind": "gif"}, ("filter.kind", "expected one of image, video, audio, text, pointcloud, dicom, got 'gif'")),
    ({"status": {"$in": ["ready", 3]}}, ("filter.status.$in[1]", "expected one of ready, pending, failed, got 3")),
    ({"kind": {"$gt": "a"}}, ("filter.kind.$gt", "operator $gt is not supported for field 'kind'")),
    ({"name": {"$exists": True}}, ("filter.name.$exists", "operator $exists is not supported for field 'name'")),
    ({"size": {"$contains": 1}}, ("filter.size.$contains", "operator $contains is not supported for field 'size'")),
    ({"size": {"$exists": 1}}, ("filter.size.$exists", "expected true or false, got 1")),
    ({"created_at": {"$gt": "yesterday"}},
     ("filter.created_at.$gt", "expected a date and time in ISO 8601 (2024-05-01T12:00:00Z), got 'yesterday'")),
    ({"created_at": 1714550400},
     ("filter.created_at", "expected a date and time in ISO 8601 (2024-05-01T12:00:00Z), got 1714550400")),
    ({"name": None}, ("filter.name", "expected a string, got null")),
    ({"name": "x" * 1001}, ("filter.name", "strings are at most 1000 characters")),
    ({"name": "a\x00b"}, ("filter.name", "strings may not contain NUL characters")),
    ({"metadata.camera": "\ud800"}, ("filter.metadata.camera", "strings must be valid Unicode")),
    ({"size": {"$in": list(range(1001))}}, ("filter.size.$in", "lists are at most 1000 values")),
    ({"size": {"$in": 5}}, ("filter.size.$in", "expected a list, got 5")),
    ({"size": {}}, ("filter.size", 'expected at least one operator, e.g. {"$eq": ...}')),
    ({"$and": {"kind": "image"}}, ("filter.$and", "expected a non-empty list, got an object")),
    ({"$or": []}, ("filter.$or", "expected a non-empty list, got a list")),
    ({"$or": [{}]}, ("filter.$or[0]", "expected a non-empty object")),
    ({"$not": {}}, ("filter.$not", "expected a non-empty object")),
    ({"$not": [{"kind": "image"}]}, ("filter.$not", "expected an object, got a list")),
    ({"size": {"$not": 5}}, ("filter.size.$not", "expected an object, got 5")),
    (NESTED_9, ("filter" + ".$not" * 9, "nested too deeply: at most 8 levels of $and, $or and $not")),
    ({"$and": [{"size": {"$gt": 1, "$lt": 9}} for _ in range(26)]},
     ("filter.$and[25].size.$gt", "too many conditions: at most 50")),
    ({"$or": [{"kind": "image"}] * 51}, ("filter.$or", "too many conditions: at most 50")),
    ({"metadata.a.b.c.d.e.f.g.h.i": 1},
     ("filter.metadata.a.b.c.d.e.f.g.h.i", "metadata paths are at most 8 keys deep")),
    ({"metadata." + "k" * 65: 1}, ("filter.metadata." + "k" * 65, f"invalid key '{'k' * 40}'... in metadata path: "
                                   "keys are 1 to 64 letters, digits, '-' or '_', without '__'")),
    ({"metadata.lens": {"$contains": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}}},
     ("filter.metadata.lens.$contains.a.b.c.d.e.f.g.h.i", "values are nested at most 8 levels deep")),
    ({"metadata.tags": {"$contains": list(range(1001))}},
     ("filter.metadata.tags.$contains[999]", "values are at most 1000 elements in all")),
]


@pytest.mark.parametrize(("filter", "expected"), ERROR_CASES, ids=[e[1][0][:60] for e in ERROR_CASES])
def test_bad_queries_name_the_path_and_say_what_is_wrong(filter, expected):
    assert query_error(filter) == expected


def test_query_error_is_a_validation_error_keyed_by_its_path():
    error = QueryError("filter.size.$gt", "expected an integer, got 'abc'")

    assert str(error) == "filter.size.$gt: expected an integer, got 'abc'"
    assert error.message_dict == {"filter.size.$gt": ["expected an integer, got 'abc'"]}
    assert isinstance(error, ValidationError)


INJECTIONS = [
    "metadata__password", "dataset__organization__name", "created_by__password", "name__regex", "name__in",
    "id; drop table", "id", "pk", "organization_id", "organization", "dataset", "blob__key", "sha256", "source_url",
    "Name", " name", "metadata", "metadata.", "metadata..a", "metadata.a.", "metadata.a__b", "metadata.__class__",
    "metadata.a b", "metadata.a;drop", "metadata.$where", "metadata.a'", "metadata.a\x00", "metadata.é",
    "created_at__year", "size__gt", "annotations.item__organization", "annotations.label.x", "name.foo",
]


@pytest.mark.parametrize("field", INJECTIONS)
def test_field_names_that_walk_relations_or_reach_lookups_are_refused(field):
    path, message = query_error({field: "x"})

    assert path == f"filter.{field}"
    assert message.startswith(("unknown field", "invalid key"))


@pytest.mark.parametrize("field", INJECTIONS)
def test_sort_keys_that_walk_relations_or_reach_lookups_are_refused(field):
    with pytest.raises(QueryError) as caught:
        parse_sort([field])

    assert caught.value.path == "sort[0]"


def test_a_metadata_key_with_a_double_underscore_says_why():
    assert query_error({"metadata.a__b": 1}) == (
        "filter.metadata.a__b",
        "invalid key 'a__b' in metadata path: keys are 1 to 64 letters, digits, '-' or '_', without '__'",
    )


def test_new_field_families_plug_into_a_registry(catalogue):
    registry = FieldRegistry()
    registry.register(ColumnField("title", "name", TextType(), substring=True))
    registry.register_family("attrs", lambda name, segments: JsonPathField(name, "metadata", segments))

    def names(filter):
        return set(items_of(catalogue).filter(compile_filter(filter, fields=registry)).values_list("name", flat=True))

    assert names({"attrs.camera": "A"}) == {A, C}
    assert names({"title": {"$contains": "dog"}}) == {B}
    with pytest.raises(QueryError, match="unknown field 'name'"):
        compile_filter({"name": "x"}, fields=registry)


# Counts (past the exact limit: test_query_pages.py)


def test_fast_count_is_exact_up_to_the_limit(catalogue):
    assert fast_count(items_of(catalogue)) == (6, True)
    assert fast_count(items_of(catalogue), exact_up_to=6) == (6, True)
    assert fast_count(items_of(catalogue).filter(compile_filter({"kind": "image"})), exact_up_to=3) == (3, True)
    assert fast_count(items_of(catalogue).filter(compile_filter({"size": {"$in": []}}))) == (0, True)
