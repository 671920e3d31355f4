"""IoU per shape type against hand-computed overlaps (and pycocotools for masks)."""

import math

import numpy as np
import pycocotools.mask as coco_mask
import pytest

from apps.quality.metrics.geometry import (
    box_iou_matrix,
    iou_matrix,
    mask_iou_matrix,
    rle_decode,
    rle_encode,
)


def test_box_iou_matrix_matches_hand_computed_overlaps():
    a = np.array([[0, 0, 10, 10], [100, 100, 10, 10]])
    b = np.array([[5, 0, 10, 10], [0, 0, 10, 10], [200, 200, 1, 1]])

    iou = box_iou_matrix(a, b)

    assert iou.shape == (2, 3)
    assert iou[0].tolist() == pytest.approx([50 / 150, 1.0, 0.0])
    assert iou[1].tolist() == [0.0, 0.0, 0.0]


def test_boxes_that_only_touch_do_not_overlap():
    assert box_iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[10, 0, 10, 10]]))[0, 0] == 0.0


def test_empty_box_sets_give_empty_matrices():
    assert box_iou_matrix(np.zeros((0, 4)), np.array([[0, 0, 1, 1]])).shape == (0, 1)
    assert iou_matrix("bbox", [], []).shape == (0, 0)


def test_degenerate_boxes_are_zero_not_nan():
    iou = box_iou_matrix(np.array([[0, 0, 0, 0]]), np.array([[0, 0, 0, 0]]))
    assert iou[0, 0] == 0.0 and not np.isnan(iou).any()


def test_rotated_box_turned_a_quarter_turn_is_the_same_square():
    square = {"cx": 50, "cy": 50, "w": 20, "h": 20, "angle": 0}
    turned = {**square, "angle": 90}
    half_turned = {**square, "angle": 45}

    iou = iou_matrix("rotated_bbox", [square], [turned, half_turned])

    # a square and the same square turned 45 degrees: the intersection is a regular octagon of side 20 (sqrt2 - 1)
    octagon = 2 * (1 + math.sqrt(2)) * (20 * (math.sqrt(2) - 1)) ** 2
    assert iou[0, 0] == pytest.approx(1.0)
    assert iou[0, 1] == pytest.approx(octagon / (800 - octagon), rel=1e-9)


def test_ellipse_iou_is_close_to_the_analytic_value():
    big = {"cx": 100, "cy": 100, "rx": 40, "ry": 20, "angle": 0}
    small = {"cx": 100, "cy": 100, "rx": 20, "ry": 10, "angle": 0}  # inside big: IoU = area ratio = 1/4

    iou = iou_matrix("ellipse", [big], [small, big])

    assert iou[0, 0] == pytest.approx(0.25, rel=1e-3)
    assert iou[0, 1] == pytest.approx(1.0)


def test_polygon_holes_are_not_area():
    ring = {"exterior": [[0, 0], [10, 0], [10, 10], [0, 10]], "holes": [[[2, 2], [8, 2], [8, 8], [2, 8]]]}
    solid = {"exterior": [[0, 0], [10, 0], [10, 10], [0, 10]], "holes": []}

    assert iou_matrix("polygon", [ring], [solid])[0, 0] == pytest.approx(64 / 100)


def test_far_apart_polygons_are_zero():
    a = {"exterior": [[0, 0], [1, 0], [1, 1]], "holes": []}
    b = {"exterior": [[50, 50], [51, 50], [51, 51]], "holes": []}
    assert iou_matrix("polygon", [a], [b])[0, 0] == 0.0


def test_rle_round_trips_including_a_mask_starting_with_foreground():
    bitmap = np.zeros((4, 3), dtype=bool)
    bitmap[0, 0] = bitmap[1:3, 1] = bitmap[3, 2] = True

    rle = rle_encode(bitmap)

    assert rle["counts"][0] == 0 and sum(rle["counts"]) == 12
    assert (rle_decode(rle) == bitmap).all()


def test_mask_iou_equals_pycocotools_on_random_masks():
    rng = np.random.default_rng(7)
    masks = [rng.random((23, 17)) > threshold for threshold in (0.3, 0.5, 0.7, 0.95)]
    rles = [rle_encode(m) for m in masks]
    coco = [coco_mask.encode(np.asfortranarray(m.astype(np.uint8))) for m in masks]

    ours = mask_iou_matrix(rles, rles)
    reference = coco_mask.iou(coco, coco, [0] * len(coco))

    assert ours == pytest.approx(reference, abs=1e-12)


def test_masks_of_different_sizes_do_not_overlap():
    a = rle_encode(np.ones((2, 2), dtype=bool))
    b = rle_encode(np.ones((2, 3), dtype=bool))
    assert mask_iou_matrix([a], [b])[0, 0] == 0.0


def test_unknown_type_has_no_iou():
    with pytest.raises(ValueError, match="point"):
        iou_matrix("point", [], [])
