"""OKS for keypoint skeletons; distances for points and polylines."""

import math

import numpy as np
import pytest

from apps.quality.metrics.points import (
    COCO_SIGMAS,
    DEFAULT_SIGMA,
    oks_matrix,
    point_distance_matrix,
    polyline_distance_matrices,
)


def skeleton(*points):
    return {"points": [list(p) for p in points]}


TRUTH = skeleton((0, 0, 2), (10, 0, 2), (10, 10, 1), (0, 0, 0))  # area of the placed points' box: 100


def test_identical_skeletons_have_oks_one():
    assert oks_matrix([TRUTH], [TRUTH])[0, 0] == pytest.approx(1.0)


def test_oks_follows_the_coco_formula_by_hand():
    candidate = skeleton((1, 0, 2), (10, 2, 2), (10, 10, 2), (5, 5, 2))  # the 4th is absent in the truth: ignored
    k2 = (2 * DEFAULT_SIGMA) ** 2
    expected = (math.exp(-1 / (2 * 100 * k2)) + math.exp(-4 / (2 * 100 * k2)) + 1.0) / 3

    assert oks_matrix([candidate], [TRUTH])[0, 0] == pytest.approx(expected)


def test_a_point_the_truth_placed_and_the_candidate_left_out_counts_as_zero():
    candidate = skeleton((0, 0, 2), (10, 0, 2), (0, 0, 0), (0, 0, 0))
    assert oks_matrix([candidate], [TRUTH])[0, 0] == pytest.approx(2 / 3)


def test_coco_names_use_cocos_sigmas():
    truth = skeleton((0, 0, 2), (10, 10, 2))
    candidate = skeleton((1, 0, 2), (10, 10, 2))
    area = 100
    nose = math.exp(-1 / (2 * area * (2 * COCO_SIGMAS["nose"]) ** 2))

    oks = oks_matrix([candidate], [truth], names=["nose", "left_hip"])[0, 0]

    assert oks == pytest.approx((nose + 1) / 2)


def test_symmetric_oks_is_symmetric():
    a = skeleton((0, 0, 2), (10, 0, 2), (0, 0, 0))
    b = skeleton((1, 1, 2), (11, 0, 2), (4, 4, 2))
    assert oks_matrix([a], [b], symmetric=True)[0, 0] == pytest.approx(oks_matrix([b], [a], symmetric=True)[0, 0])


def test_different_skeletons_and_empty_sides_are_zero_sized_or_zero():
    assert oks_matrix([skeleton((0, 0, 2))], [TRUTH])[0, 0] == 0.0
    assert oks_matrix([], [TRUTH]).shape == (0, 1)


def test_one_point_skeleton_has_a_scale_and_no_nan():
    one = skeleton((5, 5, 2))
    value = oks_matrix([skeleton((5.5, 5, 2))], [one])[0, 0]
    assert 0.0 <= value < 1.0 and not np.isnan(value)


def test_point_distances_are_euclidean():
    d = point_distance_matrix([{"x": 0, "y": 0}], [{"x": 3, "y": 4}, {"x": 0, "y": 0}])
    assert d.tolist() == [[5.0, 0.0]]


def test_parallel_polylines_are_their_offset_apart():
    a = {"points": [[0, 0], [100, 0]]}
    b = {"points": [[0, 4], [100, 4]]}
    mean, hausdorff = polyline_distance_matrices([a], [b], tolerance=10)
    assert mean[0, 0] == pytest.approx(4.0) and hausdorff[0, 0] == pytest.approx(4.0)


def test_polyline_distance_is_symmetric_and_catches_a_long_tail():
    short = {"points": [[0, 0], [10, 0]]}
    long = {"points": [[0, 0], [30, 0]]}
    forward, hausdorff = polyline_distance_matrices([short], [long], tolerance=10)
    backward, _ = polyline_distance_matrices([long], [short], tolerance=10)

    assert forward[0, 0] == pytest.approx(backward[0, 0]) and forward[0, 0] > 0
    assert hausdorff[0, 0] == pytest.approx(20.0)
