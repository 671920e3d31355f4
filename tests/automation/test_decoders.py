"""Decoders against hand-made tensors: NMS by hand, ties, empty outputs, both dense layouts, masks, DBNet maps."""

import numpy as np
import pytest
from PIL import Image

from apps.automation.runtime import DecoderError, Transform, decode, parse_decoder, parse_input_spec, preprocess
from apps.automation.runtime.decoders import batched_nms, nms, rle_encode

IDENTITY = Transform(sx=1, sy=1, pad_x=0, pad_y=0, width=100, height=100, input_width=100, input_height=100)


def detection(kind="dense", **params):
    return parse_decoder({"kind": kind, **params}, task_type="detection")


def test_nms_keeps_the_best_of_overlapping_boxes_and_the_boxes_apart():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])
    # IoU(0, 1) = 81 / (100 + 100 - 81) = 0.68 > 0.5: box 1 goes.
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]
    # At 0.7 the same pair is kept (0.68 <= 0.7).
    assert nms(boxes, scores, 0.7).tolist() == [0, 1, 2]


def test_nms_tie_keeps_the_earlier_box():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)

    assert nms(boxes, np.array([0.5, 0.5]), 0.5).tolist() == [0]


def test_nms_at_exactly_the_threshold_keeps_both():
    # Two 10x10 boxes overlapping by half: IoU = 50 / 150 = 1/3.
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], dtype=float)

    assert nms(boxes, np.array([0.9, 0.8]), 1 / 3).tolist() == [0, 1]
    assert nms(boxes, np.array([0.9, 0.8]), 0.33).tolist() == [0]


def test_nms_is_per_class():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]], dtype=float)
    scores = np.array([0.6, 0.9, 0.5])
    classes = np.array([0, 1, 0])

    assert batched_nms(boxes, scores, classes, 0.5).tolist() == [1, 0]


def test_dense_rows_decode_to_boxes_in_image_pixels():
    # [N, 4+C] rows: cx, cy, w, h, score per class. Two overlapping "car" boxes and one "person".
    rows = np.array([[[20, 20, 10, 10, 0.9, 0.1],
                      [21, 21, 10, 10, 0.8, 0.1],
                      [70, 70, 20, 10, 0.2, 0.6],
                      [50, 50, 10, 10, 0.1, 0.1]]])

    out = decode({"out": rows}, IDENTITY, detection(score_threshold=0.25), {0: "car", 1: "person"})

    assert [(a["label"], a["geometry"], a["confidence"]) for a in out] == [
        ("car", {"x": 15.0, "y": 15.0, "w": 10.0, "h": 10.0}, 0.9),
        ("person", {"x": 60.0, "y": 65.0, "w": 20.0, "h": 10.0}, 0.6),
    ]
    assert all(a["source"] == "model" and a["review_state"] == "proposed" and a["type"] == "bbox" for a in out)


def test_dense_transposed_layout_gives_the_same_boxes():
    rows = np.array([[20, 20, 10, 10, 0.9, 0.1], [70, 70, 20, 10, 0.2, 0.6]] + [[0, 0, 1, 1, 0, 0]] * 10)
    labels = {0: "car", 1: "person"}

    plain = decode({"out": rows[None]}, IDENTITY, detection(), labels)
    transposed = decode({"out": rows.T[None]}, IDENTITY, detection(), labels)

    assert transposed == plain and len(plain) == 2


def test_dense_with_objectness_multiplies_it_in():
    rows = np.array([[[20, 20, 10, 10, 0.5, 0.9], [60, 60, 10, 10, 0.1, 0.9]]])

    out = decode({"out": rows}, IDENTITY, detection(objectness=True, score_threshold=0.3), {0: "car"})

    assert [a["confidence"] for a in out] == [0.45]


def test_empty_outputs_decode_to_nothing():
    labels = {0: "car"}
    assert decode({"out": np.zeros((1, 0, 5))}, IDENTITY, detection(transposed="no"), labels) == []
    empty = {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, dtype=np.int64)}
    assert decode(empty, IDENTITY, detection("boxes_scores_labels"), labels) == []
    assert decode({"map": np.zeros((1, 1, 16, 16))}, IDENTITY, detection("dbnet"), {0: "text"}) == []


def test_boxes_scores_labels_map_back_through_the_letterbox_and_drop_unmapped_classes():
    spec = parse_input_spec({"size": [100, 100], "resize": "letterbox"})
    _tensor, transform = preprocess(Image.new("RGB", (200, 100)), spec)  # scaled by 0.5, padded 25 px top
    outputs = {"det_boxes": np.array([[10, 35, 30, 45], [0, 0, 5, 5]]), "det_scores": np.array([0.8, 0.99]),
               "det_labels": np.array([2, 7])}

    out = decode(outputs, transform, detection("boxes_scores_labels"), {2: "car"})

    assert [(a["label"], a["geometry"]) for a in out] == [("car", {"x": 20.0, "y": 20.0, "w": 40.0, "h": 20.0})]


def test_boxes_that_do_not_line_up_are_a_decoder_error():
    outputs = {"boxes": np.zeros((3, 4)), "scores": np.zeros(2), "labels": np.zeros(3)}

    with pytest.raises(DecoderError):
        decode(outputs, IDENTITY, detection("boxes_scores_labels"), {0: "car"})


def test_softmax_gives_the_top_classes_with_their_probabilities():
    spec = parse_decoder({"kind": "softmax", "top_k": 2}, task_type="classification")

    out = decode({"logits": np.array([[0.0, 2.0, 1.0]])}, IDENTITY, spec, {0: "person", 1: "car", 2: "truck"})

    probs = np.exp([0.0, 2.0, 1.0]) / np.exp([0.0, 2.0, 1.0]).sum()
    assert [(a["label"], a["confidence"]) for a in out] == [("car", round(probs[1], 6)), ("truck", round(probs[2], 6))]
    assert all(a["geometry"] is None and a["type"] == "classification" for a in out)


def test_mask_scores_become_rle_per_class_in_image_size():
    scores = np.zeros((1, 2, 4, 4))
    scores[0, 0] = 1.0
    scores[0, 1, 1:3, 1:3] = 5.0  # class 1 in the middle 2x2
    transform = Transform(sx=0.5, sy=0.5, pad_x=0, pad_y=0, width=8, height=8, input_width=4, input_height=4)
    spec = parse_decoder({"kind": "mask", "output": "rle"}, task_type="segmentation")

    out = decode({"seg": scores}, transform, spec, {1: "car"})

    expected = np.zeros((8, 8), dtype=bool)
    expected[2:6, 2:6] = True
    assert len(out) == 1 and out[0]["type"] == "mask" and out[0]["label"] == "car"
    assert out[0]["geometry"] == {"rle": rle_encode(expected)}
    assert out[0]["geometry"]["rle"]["counts"] == [18, 4, 4, 4, 4, 4, 4, 4, 18]


def test_mask_classes_become_one_polygon_per_region():
    classes = np.zeros((1, 10, 10), dtype=np.int64)
    classes[0, 1:4, 1:4] = 1
    classes[0, 6:9, 5:9] = 1
    transform = Transform(sx=1, sy=1, pad_x=0, pad_y=0, width=10, height=10, input_width=10, input_height=10)
    spec = parse_decoder({"kind": "mask", "output": "polygon", "simplify": 0}, task_type="segmentation")

    out = decode({"seg": classes}, transform, spec, {1: "car"})

    areas = sorted(__import__("shapely").geometry.Polygon(a["geometry"]["exterior"]).area for a in out)
    assert [a["type"] for a in out] == ["polygon", "polygon"] and areas == [9.0, 12.0]


def test_dbnet_map_gives_an_expanded_rectangle_per_text_region_with_its_mean_probability():
    prob = np.zeros((1, 1, 40, 80), dtype=np.float32)
    prob[0, 0, 10:20, 10:50] = 0.9  # one 40x10 text line
    prob[0, 0, 30:32, 60:62] = 0.9  # a speck below min_size
    transform = Transform(sx=0.5, sy=0.5, pad_x=0, pad_y=0, width=160, height=80, input_width=80, input_height=40)

    out = decode({"map": prob}, transform, detection("dbnet", unclip_ratio=1.5), {0: "text"})

    assert len(out) == 1 and out[0]["label"] == "text" and out[0]["confidence"] == pytest.approx(0.9)
    xs = [p[0] for p in out[0]["geometry"]["exterior"]]
    ys = [p[1] for p in out[0]["geometry"]["exterior"]]
    # Unclip distance = area * ratio / perimeter = 400 * 1.5 / 100 = 6 model px = 12 image px on each side.
    assert min(xs) == pytest.approx(8, abs=0.5) and max(xs) == pytest.approx(112, abs=0.5)
    assert min(ys) == pytest.approx(8, abs=0.5) and max(ys) == pytest.approx(52, abs=0.5)


def test_embeddings_are_unit_length():
    spec = parse_decoder({"kind": "embedding"}, task_type="embedding")

    out = decode({"emb": np.array([[3.0, 4.0]])}, IDENTITY, spec, {})

    assert out == [{"type": "embedding", "vector": [0.6, 0.8], "source": "model"}]


def test_preprocess_normalises_and_lays_out_channels():
    spec = parse_input_spec({"size": [2, 2], "resize": "stretch", "layout": "NHWC", "color": "BGR",
                             "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]})

    tensor, transform = preprocess(Image.new("RGB", (4, 4), (255, 0, 0)), spec)

    assert tensor.shape == (2, 2, 3)
    assert tensor[0, 0].tolist() == [-1.0, -1.0, 1.0]  # blue, green, red
    assert (transform.sx, transform.sy) == (0.5, 0.5)
