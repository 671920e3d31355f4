"""Merge strategies on small hand cases."""

import numpy as np
import pytest

from apps.quality.merge import majority_vote, merge_annotations
from apps.quality.metrics import Settings
from apps.quality.metrics.geometry import rle_decode, rle_encode


def box(x, label="car", w=100, confidence=None, **attributes):
    shape = {"type": "bbox", "label": label, "geometry": {"x": x, "y": 10, "w": w, "h": 50}, "attributes": attributes}
    return {**shape, "confidence": confidence} if confidence is not None else shape


def test_majority_vote_takes_the_most_votes():
    assert majority_vote(["b", "a", "b"]) == "b"


def test_majority_vote_ties_do_not_depend_on_the_order():
    assert majority_vote(["red", "blue"]) == majority_vote(["blue", "red"]) == "blue"


def test_majority_vote_weights_beat_counts_and_counts_break_weight_ties():
    assert majority_vote(["a", "a", "b"], [1, 1, 3]) == "b"
    assert majority_vote(["a", "a", "b"], [1, 1, 2]) == "a"
    assert majority_vote([]) is None


def test_boxes_are_fused_by_weighted_corners_and_lonely_boxes_dropped():
    works = {1: [box(10)], 2: [box(14)], 3: [box(12), box(400, w=20)]}

    result = merge_annotations(works)

    assert result["annotations"] == [{"type": "bbox", "label": "car", "attributes": {},
                                      "geometry": {"x": 12.0, "y": 10.0, "w": 100.0, "h": 50.0}}]
    kept = {c["support"]: c["kept"] for c in result["clusters"]}
    assert kept == {3: True, 1: False}


def test_box_fusion_is_weighted_by_annotator_and_confidence():
    works = {"a": [box(0, confidence=1.0)], "b": [box(30, confidence=0.5)]}
    merged = merge_annotations(works, weights={"a": 1.0, "b": 2.0}, quorum=2)["annotations"][0]
    assert merged["geometry"]["x"] == pytest.approx(15.0)  # weights 1 and 2 x 0.5: the midpoint


def test_quorum_decides_what_survives():
    works = {1: [box(10)], 2: [], 3: []}
    assert merge_annotations(works)["annotations"] == []
    assert len(merge_annotations(works, quorum=1)["annotations"]) == 1


def test_cluster_label_and_attributes_by_majority():
    works = {1: [box(10, colour="red")], 2: [box(12, label="truck", colour="blue")], 3: [box(14, colour="red")]}
    merged = merge_annotations(works)["annotations"][0]
    assert merged["label"] == "car" and merged["attributes"] == {"colour": "red"}


def test_classifications_by_majority_vote():
    works = {1: [{"type": "classification", "label": "day", "attributes": {"light": "sun"}}],
             2: [{"type": "classification", "label": "day", "attributes": {"light": "cloud"}},
                 {"type": "classification", "label": "rain", "attributes": {}}],
             3: [{"type": "classification", "label": "day", "attributes": {"light": "sun"}}]}

    result = merge_annotations(works)

    assert result["annotations"] == [{"type": "classification", "label": "day", "geometry": None,
                                      "attributes": {"light": "sun"}}]


def test_masks_are_fused_by_per_pixel_majority():
    base = np.zeros((6, 5), dtype=bool)
    base[1:4, 1:4] = True
    extra, missing = base.copy(), base.copy()
    extra[4, 4] = True
    missing[1, 1] = False
    mask = lambda bitmap: {"type": "mask", "label": "road", "geometry": {"rle": rle_encode(bitmap)}}  # noqa: E731

    result = merge_annotations({1: [mask(base)], 2: [mask(extra)], 3: [mask(missing)]})

    (merged,) = result["annotations"]
    assert (rle_decode(merged["geometry"]["rle"]) == base).all()
    assert result["clusters"][0]["method"] == "pixel_vote"


def test_other_shapes_take_the_medoid():
    point = lambda x: {"type": "point", "label": "tip", "geometry": {"x": x, "y": 0}}  # noqa: E731
    result = merge_annotations({1: [point(0)], 2: [point(4)], 3: [point(6)]})
    assert result["annotations"][0]["geometry"] == {"x": 4, "y": 0}
    assert result["clusters"][0]["method"] == "medoid"


def test_one_annotator_never_fills_a_cluster_twice():
    works = {1: [box(10), box(12)], 2: [box(11)]}
    clusters = merge_annotations(works, quorum=1)["clusters"]
    assert sorted(c["support"] for c in clusters) == [1, 2]


def test_frames_are_merged_separately_and_keep_their_frame():
    works = {1: [{**box(10), "frame": 2}, box(10)], 2: [{**box(10), "frame": 2}], 3: [box(10)]}
    merged = merge_annotations(works, quorum=2)["annotations"]
    assert sorted(a.get("frame", 0) for a in merged) == [0, 2]


def test_mask_vote_on_runs_equals_the_pixel_vote_on_random_masks():
    rng = np.random.default_rng(9)
    for _ in range(20):
        bitmaps = [rng.random((13, 11)) > 0.5 for _ in range(3)]
        weights = rng.uniform(0.5, 2.0, 3).tolist()
        works = {k: [{"type": "mask", "label": "road", "geometry": {"rle": rle_encode(b)}}]
                 for k, b in enumerate(bitmaps)}

        result = merge_annotations(works, weights=dict(enumerate(weights)), quorum=1,
                                   settings=Settings(iou=0.0))

        expected = sum(w * b for w, b in zip(weights, bitmaps, strict=True)) > sum(weights) / 2
        (merged,) = result["annotations"]
        assert (rle_decode(merged["geometry"]["rle"]) == expected).all()
        assert merged["geometry"]["rle"] == rle_encode(expected)
