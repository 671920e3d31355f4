"""Consensus scoring of many items' boxes at once: the same numbers as item.consensus_score, vectorised.

Input: boxes (items, annotators, slots, 4) as x, y, w, h; labels (items, annotators, slots) as integer codes;
slots an annotator left empty have w = h = 0 (or label -1). For every pair of annotators (p, q) of every item:
F1 = 2 M / (|p| + |q|) with M the size of the optimal label-aware matching at IoU >= threshold (1 when both drew
nothing); the item's score is the mean over pairs. The IoU of all pairs of all items is computed in one numpy
pass; linear_sum_assignment runs only on the pairs whose matching is ambiguous (a box that may match more than one
box on the other side); everywhere else each allowed pair is its own maximum matching.
"""

from itertools import combinations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .geometry import batched_box_iou

CHUNK = 20_000  # items per numpy pass: bounds the (items, slots, slots) temporaries


def _pair_f1(boxes_p, boxes_q, labels_p, labels_q, threshold) -> np.ndarray:
    iou = batched_box_iou(boxes_p, boxes_q)
    valid_p = (boxes_p[:, :, 2] > 0) & (boxes_p[:, :, 3] > 0) & (labels_p >= 0)
    valid_q = (boxes_q[:, :, 2] > 0) & (boxes_q[:, :, 3] > 0) & (labels_q >= 0)
    allowed = ((iou >= threshold) & (labels_p[:, :, None] == labels_q[:, None, :])
               & valid_p[:, :, None] & valid_q[:, None, :])
    per_row, per_col = allowed.sum(axis=2), allowed.sum(axis=1)
    matched = allowed.sum(axis=(1, 2)).astype(np.float64)
    ambiguous = np.flatnonzero((per_row > 1).any(axis=1) | (per_col > 1).any(axis=1))
    for k in ambiguous:
        weight = np.where(allowed[k], 2 * allowed.shape[1] + 2 + iou[k], 0.0)
        rows, cols = linear_sum_assignment(weight, maximize=True)
        matched[k] = allowed[k][rows, cols].sum()
    total = valid_p.sum(axis=1) + valid_q.sum(axis=1)
    return np.where(total > 0, 2 * matched / np.maximum(total, 1), 1.0)


def consensus_boxes(boxes: np.ndarray, labels: np.ndarray, *, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """{"score": (items,) mean pairwise F1, "totals": (items, annotators) each annotator's sum of pairwise F1,
    "chosen": (items,) the annotator index agreeing most (ties to the lowest index)}."""
    boxes = np.asarray(boxes, dtype=np.float64)
    labels = np.asarray(labels)
    n_items, n_annotators = boxes.shape[:2]
    pairs = list(combinations(range(n_annotators), 2))
    totals = np.zeros((n_items, n_annotators))
    score = np.ones(n_items)
    if not pairs:
        return {"score": score, "totals": totals, "chosen": np.zeros(n_items, dtype=np.int64)}
    score = np.zeros(n_items)
    for start in range(0, n_items, CHUNK):
        part = slice(start, start + CHUNK)
        for p, q in pairs:
            f1 = _pair_f1(boxes[part, p], boxes[part, q], labels[part, p], labels[part, q], threshold)
            score[part] += f1
            totals[part, p] += f1
            totals[part, q] += f1
    return {"score": score / len(pairs), "totals": totals, "chosen": totals.argmax(axis=1)}
