"""One item's agreement, gold score and consensus score, combining the metrics per type."""

import json
import math

import numpy as np

from apps.quality.metrics import Settings, consensus_score, gold_score, item_agreement
from apps.quality.metrics.batch import consensus_boxes


def box(x, label="car", w=100, **attributes):
    return {"type": "bbox", "label": label, "geometry": {"x": x, "y": 10, "w": w, "h": 50}, "attributes": attributes}


def point(x, y, label="tip"):
    return {"type": "point", "label": label, "geometry": {"x": x, "y": y}, "attributes": {}}


def tag(label, **attributes):
    return {"type": "classification", "label": label, "geometry": None, "attributes": attributes}


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def test_nothing_on_either_side_is_full_agreement():
    assert item_agreement([], [])["score"] == 1.0
    assert gold_score([], [])["score"] == 1.0


def test_one_side_empty_is_no_agreement():
    result = item_agreement([box(10)], [])
    assert result["score"] == 0.0 and result["types"]["bbox"]["unmatched_a"] == [0]


def test_perfect_agreement_across_types():
    work = [box(10), point(5, 5), tag("day")]
    result = item_agreement(work, [dict(a) for a in work])
    assert result["score"] == 1.0 and set(result["types"]) == {"bbox", "point"}


def test_no_overlap_scores_zero_and_says_which_shapes_differ():
    result = item_agreement([box(10, w=20)], [box(300, w=20)])
    assert result["score"] == 0.0
    assert result["types"]["bbox"]["unmatched_a"] == [0] and result["types"]["bbox"]["unmatched_b"] == [0]


def test_label_mismatch_is_a_confusion_not_a_match():
    result = item_agreement([box(10)], [box(10, label="truck")])
    assert result["score"] == 0.0 and result["types"]["bbox"]["confusions"] == [[0, 0, 1.0]]


def test_score_is_the_mean_of_the_parts_present():
    # boxes: 1 of 2 matched on each side -> F1 0.5; classes {day} vs {day, rain} -> 1/2; attributes 1 of 1
    a = [box(10, colour="red"), box(300, w=20), tag("day")]
    b = [box(12, colour="red"), box(600, w=20), tag("day"), tag("rain")]

    result = item_agreement(a, b)

    assert result["types"]["bbox"]["f1"] == 0.5
    assert result["classes"]["score"] == 0.5 and result["classes"]["only_b"] == ["rain"]
    assert result["attributes"]["score"] == 1.0
    assert result["score"] == (0.5 + 0.5 + 1.0) / 3


def test_attribute_differences_name_the_attribute_and_both_values():
    result = item_agreement([box(10, colour="red")], [box(10, colour="blue")])
    assert result["attributes"]["differences"] == [
        {"a": 0, "b": 0, "attribute": "colour", "value_a": "red", "value_b": "blue"}]
    assert result["score"] == (1.0 + 0.0) / 2


def test_indices_point_into_the_lists_given_across_types():
    a = [tag("day"), point(5, 5), box(10)]
    b = [box(10), point(6, 5)]
    result = item_agreement(a, b)
    assert result["types"]["bbox"]["pairs"] == [[2, 0, 1.0]]
    assert result["types"]["point"]["pairs"] == [[1, 1, 0.9]]


def test_points_match_within_the_tolerance_only():
    near, far = item_agreement([point(0, 0)], [point(10, 0)]), item_agreement([point(0, 0)], [point(10.5, 0)])
    strict = item_agreement([point(0, 0)], [point(3, 0)], settings=Settings(point_px=2))
    assert near["score"] == 1.0 and far["score"] == 0.0 and strict["score"] == 0.0


def test_iou_threshold_is_configurable():
    a, b = [box(10)], [box(60)]  # IoU 50/150
    assert item_agreement(a, b)["score"] == 0.0
    assert item_agreement(a, b, settings=Settings(iou=0.3))["score"] == 1.0


def test_gold_precision_and_recall_are_against_the_truth():
    result = gold_score([box(10), box(300, w=20)], [box(10)])
    bbox = result["types"]["bbox"]
    assert (bbox["precision"], bbox["recall"]) == (0.5, 1.0) and result["score"] == 2 / 3


def test_output_is_json_and_nan_free():
    result = item_agreement([box(10), point(1, 1), tag("x")], [box(400, w=10)])
    assert _finite(result) and json.loads(json.dumps(result)) == result


def test_consensus_is_the_mean_pairwise_score_and_chooses_the_middle_one():
    works = {3: [box(10)], 1: [box(14)], 2: [box(400, w=20)]}

    result = consensus_score(works)

    assert result["score"] == 1 / 3
    assert result["chosen"] == 1  # 1 and 3 agree equally with the others: the smaller key
    assert [(p["a"], p["b"]) for p in result["pairs"]] == [(1, 2), (1, 3), (2, 3)]


def test_consensus_of_one_annotator_is_one():
    assert consensus_score({5: [box(1)]}) == {"score": 1.0, "chosen": 5, "pairs": [], "totals": {5: 0.0}}


def test_batched_box_consensus_equals_the_item_by_item_scores():
    rng = np.random.default_rng(1)
    items, annotators, slots = 40, 3, 6
    base = np.concatenate([rng.uniform(0, 500, (items, 1, slots, 2)), rng.uniform(5, 80, (items, 1, slots, 2))],
                          axis=-1)
    boxes = base + rng.normal(0, 6, (items, annotators, slots, 4))
    boxes[..., 2:] = np.abs(boxes[..., 2:]) + 1
    labels = rng.integers(0, 2, (items, annotators, slots))
    boxes[rng.random((items, annotators, slots)) < 0.2] = 0  # empty slots

    batched = consensus_boxes(boxes, labels)

    for i in range(items):
        works = {a: [{"type": "bbox", "label": int(labels[i, a, s]),
                      "geometry": dict(zip("xywh", boxes[i, a, s].tolist(), strict=True))}
                     for s in range(slots) if boxes[i, a, s, 2] > 0]
                 for a in range(annotators)}
        single = consensus_score(works)
        assert batched["score"][i] == single["score"]
        assert batched["chosen"][i] == single["chosen"]


def test_shapes_and_classes_match_only_within_one_frame():
    on_frame = lambda annotation, frame: {**annotation, "frame": frame}  # noqa: E731
    result = item_agreement([on_frame(box(10), 0), on_frame(tag("day"), 3)], [on_frame(box(10), 1), tag("day")])
    assert result["score"] == 0.0 and result["classes"]["only_a"] == ["day (frame 3)"]


def test_boxes_exactly_at_the_iou_threshold_match():
    half = item_agreement([box(10, w=100)], [box(10, w=50)])  # IoU 2500 / 5000
    assert half["types"]["bbox"]["pairs"] == [[0, 0, 0.5]] and half["score"] == 1.0


def test_coco_skeleton_names_change_the_keypoint_score():
    truth = {"type": "keypoints", "label": "person", "geometry": {"points": [[0, 0, 2], [10, 10, 2]]}}
    work = {"type": "keypoints", "label": "person", "geometry": {"points": [[2, 0, 2], [10, 10, 2]]}}
    coco = Settings(skeletons={"person": ["left_hip", "right_hip"]})

    default, named = gold_score([work], [truth]), gold_score([work], [truth], settings=coco)

    assert default["types"]["keypoints"]["mean_similarity"] < named["types"]["keypoints"]["mean_similarity"]
