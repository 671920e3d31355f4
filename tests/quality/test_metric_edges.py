"""The edge cases of the issue's list (empty sets, no overlap, perfect agreement) for the families whose own test
files leave one out: rotated boxes, ellipses, polygons, masks, points, polylines and the agreement coefficients."""

import numpy as np
import pytest

from apps.quality.metrics.classification import accuracy, cohen_kappa
from apps.quality.metrics.geometry import iou_matrix, mask_iou_matrix, rle_encode
from apps.quality.metrics.points import point_distance_matrix, polyline_distance_matrices

ROTATED = {"cx": 50, "cy": 50, "w": 20, "h": 10, "angle": 30}
ELLIPSE = {"cx": 50, "cy": 50, "rx": 20, "ry": 10, "angle": 30}
POLYGON = {"exterior": [[0, 0], [10, 0], [10, 10], [0, 10]], "holes": []}


@pytest.mark.parametrize("kind,shape,far", [
    ("rotated_bbox", ROTATED, {**ROTATED, "cx": 500}),
    ("ellipse", ELLIPSE, {**ELLIPSE, "cy": 500}),
    ("polygon", POLYGON, {"exterior": [[100, 100], [110, 100], [110, 110]], "holes": []}),
])
def test_shapes_perfect_far_apart_and_empty(kind, shape, far):
    iou = iou_matrix(kind, [shape], [shape, far])

    assert iou[0].tolist() == pytest.approx([1.0, 0.0])
    assert iou_matrix(kind, [], [shape]).shape == (0, 1)
    assert iou_matrix(kind, [shape], []).shape == (1, 0)


def test_masks_perfect_disjoint_empty_and_all_background():
    left, right = np.zeros((4, 4), dtype=bool), np.zeros((4, 4), dtype=bool)
    left[:, :2], right[:, 2:] = True, True
    blank = rle_encode(np.zeros((4, 4), dtype=bool))

    iou = mask_iou_matrix([rle_encode(left)], [rle_encode(left), rle_encode(right), blank])

    assert iou[0].tolist() == [1.0, 0.0, 0.0]
    assert mask_iou_matrix([blank], [blank])[0, 0] == 0.0  # nothing drawn on either side: no NaN
    assert mask_iou_matrix([], [blank]).shape == (0, 1)


def test_points_and_polylines_identical_and_empty():
    line = {"points": [[0, 0], [10, 0], [10, 10]]}

    assert point_distance_matrix([{"x": 3, "y": 4}], [{"x": 3, "y": 4}])[0, 0] == 0.0
    assert point_distance_matrix([], [{"x": 3, "y": 4}]).shape == (0, 1)
    distances = polyline_distance_matrices([line], [line], tolerance=2.0)
    assert all(np.asarray(d)[0, 0] == pytest.approx(0.0) for d in distances)
    assert all(np.asarray(d).shape == (0, 1) for d in polyline_distance_matrices([], [line], tolerance=2.0))


def test_classifications_perfect_opposite_and_empty():
    assert accuracy(["a", "b", "a"], ["a", "b", "a"]) == 1.0
    assert cohen_kappa(["a", "b", "a"], ["a", "b", "a"]) == pytest.approx(1.0)
    assert cohen_kappa(["a", "b"], ["b", "a"]) == pytest.approx(-1.0)  # by hand: po 0, pe 1/2, (0 - 1/2)/(1/2)
    assert accuracy([], []) == 1.0 and cohen_kappa([], []) == 1.0  # nothing to disagree on, as for shapes
