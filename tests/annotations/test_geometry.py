"""Geometry validation per type, through the API: a user sees which annotation and which field is wrong."""

import math

import pytest

from apps.annotations.geometry import MAX_RING_VERTICES, bounding_box, normalise_geometry

pytestmark = pytest.mark.django_db

NAN, INF = math.nan, math.inf
W, H = 640, 480

VALID = [
    ("point", {"x": 3, "y": 4}),
    ("bbox", {"x": 0, "y": 0, "w": 640, "h": 480}),
    ("rotated_bbox", {"cx": 100, "cy": 100, "w": 80, "h": 40, "angle": 30}),
    ("ellipse", {"cx": 100, "cy": 100, "rx": 50, "ry": 20, "angle": 90}),
    ("polyline", {"points": [[0, 0], [10, 10], [20, 0]]}),
    ("polygon", {"exterior": [[0, 0], [100, 0], [100, 100], [0, 100]], "holes": [[[10, 10], [20, 10], [20, 20]]]}),
    ("keypoints", {"points": [[1, 1, 2], [5, 5, 1], [0, 0, 0]]}),
    ("mask", {"rle": {"size": [H, W], "counts": [10, 5, H * W - 15]}}),
    ("classification", None),
]

INVALID = [
    ("point", {"x": NAN, "y": 1}, "x", "finite"),
    ("point", {"x": 1, "y": INF}, "y", "finite"),
    ("point", {"x": "1", "y": 1}, "x", "number"),
    ("point", {"x": 641, "y": 1}, "geometry", "outside the item"),
    ("point", {"x": -1, "y": 1}, "geometry", "outside the item"),
    ("bbox", {"x": 0, "y": 0, "w": 0, "h": 5}, "w", "positive"),
    ("bbox", {"x": 600, "y": 0, "w": 100, "h": 5}, "geometry", "outside the item"),
    ("bbox", {"x": 0, "y": 0, "w": 5}, "h", "required"),
    ("bbox", {"x": 0, "y": 0, "w": 5, "h": 5, "z": 1}, "z", "Unknown"),
    ("rotated_bbox", {"cx": 5, "cy": 5, "w": 40, "h": 40, "angle": 45}, "geometry", "outside the item"),
    ("rotated_bbox", {"cx": 50, "cy": 50, "w": 4, "h": 4, "angle": 1e9}, "angle", "degrees"),
    ("ellipse", {"cx": 50, "cy": 50, "rx": -1, "ry": 4}, "rx", "positive"),
    ("polyline", {"points": [[0, 0]]}, "points", "at least 2"),
    ("polyline", {"points": [[0, 0], [1, NAN]]}, "points.1.1", "finite"),
    ("polygon", {"exterior": [[0, 0], [10, 10], [10, 0], [0, 10]]}, "exterior", "Self-intersection"),
    ("polygon", {"exterior": [[0, 0], [10, 0]]}, "exterior", "at least 3"),
    ("polygon", {"exterior": [[0, 0], [5, 5], [10, 10]]}, "exterior", "valid polygon"),
    ("polygon", {"exterior": [[0, 0], [10, 0], [10, 10]], "holes": [[[50, 50], [60, 50], [60, 60]]]}, "exterior",
     "valid polygon"),
    ("polygon", {"exterior": [[i % 600, i // 600] for i in range(MAX_RING_VERTICES + 1)]}, "exterior", "At most"),
    ("keypoints", {"points": [[1, 1, 2]]}, "points", "3 points"),
    ("keypoints", {"points": [[1, 1, 7], [1, 1, 2], [1, 1, 2]]}, "points.0", "[x, y, v]"),
    ("keypoints", {"points": [[0, 0, 0], [0, 0, 0], [0, 0, 0]]}, "points", "At least one"),
    ("mask", {"rle": {"size": [10, 10], "counts": [100]}}, "rle.size", "the item is"),
    ("mask", {"rle": {"size": [H, W], "counts": [5, 5]}}, "rle.counts", "add up"),
    ("mask", {"rle": {"size": [H, W], "counts": [H * W]}}, "rle.counts", "empty"),
    ("mask", {"rle": {"size": [H, W], "counts": [-1, H * W + 1]}}, "rle.counts", "whole numbers"),
    ("classification", {"x": 1}, "geometry", "no geometry"),
]

SKELETON = {"points": ["head", "left_hand", "right_hand"], "edges": [[0, 1], [0, 2]]}


@pytest.mark.parametrize("kind,geometry", VALID, ids=[v[0] for v in VALID])
def test_valid_geometry_is_kept(kind, geometry):
    out = normalise_geometry(kind, geometry, width=W, height=H, skeleton=SKELETON)
    if kind != "classification":
        assert out is not None and bounding_box(kind, out) is not None


@pytest.mark.parametrize("kind,geometry,path,words", INVALID, ids=[f"{v[0]}-{v[2]}-{v[3]}" for v in INVALID])
def test_invalid_geometry_names_the_part_and_the_reason(kind, geometry, path, words):
    from apps.annotations.geometry import GeometryError

    with pytest.raises(GeometryError) as info:
        normalise_geometry(kind, geometry, width=W, height=H, skeleton=SKELETON)

    assert info.value.path == path
    assert words in info.value.message


def test_mask_bounding_box_is_read_from_the_runs():
    # column-major 4x4: column 1 rows 1-2 set, column 2 rows 1-2 set
    rle = {"size": [4, 4], "counts": [5, 2, 2, 2, 5]}
    assert bounding_box("mask", {"rle": rle}) == (1.0, 1.0, 2.0, 2.0)


def test_nan_in_the_api_body_is_a_400_not_a_500(street, owner_a, api_for):
    body = ('{"type": "bbox", "label": "car", "attributes": {"colour": "red"}, '
            '"geometry": {"x": NaN, "y": 0, "w": 1, "h": 1}}')
    response = api_for(owner_a).post(f"/api/v1/items/{street['item'].pk}/annotations/", body,
                                     content_type="application/json")
    assert response.status_code == 400


def test_bulk_errors_name_the_annotation(street, owner_a, api_for):
    response = api_for(owner_a).post(f"/api/v1/items/{street['item'].pk}/annotations/", [
        {"type": "point", "label": "car", "geometry": {"x": 1, "y": 1}, "attributes": {"colour": "red"}},
        {"type": "polygon", "label": "car", "attributes": {"colour": "red"},
         "geometry": {"exterior": [[0, 0], [10, 10], [10, 0], [0, 10]]}},
    ], format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["create.1.geometry.exterior"]
    assert "Self-intersection" in errors["create.1.geometry.exterior"][0]
