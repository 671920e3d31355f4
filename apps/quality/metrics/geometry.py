"""Overlap (IoU) between shapes as the annotations app stores them (apps/annotations/geometry.py).

Every function returns an (n, m) float64 matrix M with M[i, j] = IoU(a[i], b[j]) in [0, 1]:

    IoU(A, B) = area(A ∩ B) / area(A or B) = area(A ∩ B) / (area(A) + area(B) - area(A ∩ B))

and 0 where the union is empty (degenerate shapes never divide by zero, so the output is NaN-free).

- bbox {"x", "y", "w", "h"}: closed form, vectorised with numpy over all pairs at once.
- rotated_bbox {"cx", "cy", "w", "h", "angle"} and polygon {"exterior", "holes"}: exact polygon areas with shapely.
- ellipse {"cx", "cy", "rx", "ry", "angle"}: shapely polygon with ELLIPSE_SEGMENTS vertices (area within 0.3% of πab).
- mask {"rle": {"size": [h, w], "counts": [...]}}: COCO's uncompressed column-major RLE, intersected run by run
  without decoding to pixels: |A ∩ B| = |A| + |B| - |A or B|, the union measured on the merged run boundaries.
Pairs whose bounding boxes do not touch are 0 without computing their exact overlap.
"""

import math

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import Polygon

ELLIPSE_SEGMENTS = 64


def boxes_array(geometries) -> np.ndarray:
    """(n, 4) float64 array of x, y, w, h."""
    if not len(geometries):
        return np.zeros((0, 4))
    return np.array([[g["x"], g["y"], g["w"], g["h"]] for g in geometries], dtype=np.float64)


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (n, 4: x, y, w, h) with every box in b (m, 4).

    inter = max(0, min(x1a, x1b) - max(x0a, x0b)) * max(0, min(y1a, y1b) - max(y0a, y0b))."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax0, ay0, aw, ah = (a[:, k, None] for k in range(4))
    bx0, by0, bw, bh = (b[None, :, k] for k in range(4))
    iw = np.clip(np.minimum(ax0 + aw, bx0 + bw) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay0 + ah, by0 + bh) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    union = np.clip(aw, 0, None) * np.clip(ah, 0, None) + np.clip(bw, 0, None) * np.clip(bh, 0, None) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def batched_box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrices for a batch: a (k, n, 4), b (k, m, 4) -> (k, n, m). Boxes with w or h <= 0 are padding (IoU 0)."""
    ax0, ay0, aw, ah = (a[:, :, None, i] for i in range(4))
    bx0, by0, bw, bh = (b[:, None, :, i] for i in range(4))
    iw = np.clip(np.minimum(ax0 + aw, bx0 + bw) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay0 + ah, by0 + bh) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    union = np.clip(aw, 0, None) * np.clip(ah, 0, None) + np.clip(bw, 0, None) * np.clip(bh, 0, None) - inter
    valid = (union > 0) & (aw > 0) & (ah > 0) & (bw > 0) & (bh > 0)
    return np.where(valid, inter / np.where(valid, union, 1), 0.0)


# --- shapes through shapely -----------------------------------------------------------------------------------

def _rotated_box_polygon(g) -> Polygon:
    rad = math.radians(g.get("angle", 0.0))
    cos, sin = math.cos(rad), math.sin(rad)
    hw, hh = g["w"] / 2, g["h"] / 2
    return Polygon([(g["cx"] + dx * cos - dy * sin, g["cy"] + dx * sin + dy * cos)
                    for dx, dy in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh))])


def _ellipse_polygon(g) -> Polygon:
    circle = shapely.Point(0, 0).buffer(1.0, quad_segs=ELLIPSE_SEGMENTS // 4)
    shape = affinity.scale(circle, g["rx"], g["ry"], origin=(0, 0))
    shape = affinity.rotate(shape, g.get("angle", 0.0), origin=(0, 0))  # y down: positive = clockwise on screen
    return affinity.translate(shape, g["cx"], g["cy"])


def _polygon(g) -> Polygon:
    shape = Polygon(g["exterior"], g.get("holes") or [])
    return shape if shape.is_valid else shape.buffer(0)  # stored polygons are valid; imported ones may not be


SHAPE_BUILDERS = {"rotated_bbox": _rotated_box_polygon, "ellipse": _ellipse_polygon, "polygon": _polygon}


def to_shapes(kind: str, geometries) -> np.ndarray:
    build = SHAPE_BUILDERS[kind]
    return np.array([build(g) for g in geometries], dtype=object)


def shape_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of shapely geometries, all pairs; pairs whose bounds do not touch are skipped (0)."""
    out = np.zeros((len(a), len(b)))
    if not len(a) or not len(b):
        return out
    bounds_a, bounds_b = shapely.bounds(a), shapely.bounds(b)
    touch = ((bounds_a[:, None, 0] <= bounds_b[None, :, 2]) & (bounds_b[None, :, 0] <= bounds_a[:, None, 2])
             & (bounds_a[:, None, 1] <= bounds_b[None, :, 3]) & (bounds_b[None, :, 1] <= bounds_a[:, None, 3]))
    rows, cols = np.nonzero(touch)
    if not len(rows):
        return out
    inter = shapely.area(shapely.intersection(a[rows], b[cols]))
    union = shapely.area(a)[rows] + shapely.area(b)[cols] - inter
    out[rows, cols] = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return np.clip(out, 0.0, 1.0)


# --- masks -----------------------------------------------------------------------------------------------------

def rle_runs(rle: dict) -> np.ndarray:
    """The foreground runs of a column-major RLE as an (k, 2) array of [start, end) pixel offsets."""
    counts = np.asarray(rle["counts"], dtype=np.int64)
    ends = np.cumsum(counts)
    starts = ends - counts
    runs = np.stack([starts[1::2], ends[1::2]], axis=1)
    return runs[runs[:, 1] > runs[:, 0]]


def _covered(runs: np.ndarray) -> int:
    return int((runs[:, 1] - runs[:, 0]).sum())


def _union_length(a: np.ndarray, b: np.ndarray) -> int:
    """Length of the union of two sets of disjoint runs: sweep the merged boundaries, count where any run is open."""
    edges = np.concatenate([a[:, 0], b[:, 0], a[:, 1], b[:, 1]])
    step = np.concatenate([np.ones(len(a) + len(b), np.int64), -np.ones(len(a) + len(b), np.int64)])
    order = np.lexsort((step, edges))  # at one position close (-1) before open (+1): touching runs do not overlap
    edges, depth = edges[order], np.cumsum(step[order])
    return int(((edges[1:] - edges[:-1]) * (depth[:-1] > 0)).sum())


def mask_iou_matrix(a: list[dict], b: list[dict]) -> np.ndarray:
    """IoU of RLE masks ({"size", "counts"}), all pairs. Masks of different sizes do not overlap."""
    runs_a, runs_b = [rle_runs(r) for r in a], [rle_runs(r) for r in b]
    area_a, area_b = [_covered(r) for r in runs_a], [_covered(r) for r in runs_b]
    out = np.zeros((len(a), len(b)))
    for i, ra in enumerate(runs_a):
        for j, rb in enumerate(runs_b):
            if list(a[i]["size"]) != list(b[j]["size"]) or not len(ra) or not len(rb):
                continue
            if ra[-1, 1] <= rb[0, 0] or rb[-1, 1] <= ra[0, 0]:
                continue
            union = _union_length(ra, rb)
            out[i, j] = (area_a[i] + area_b[j] - union) / union if union else 0.0
    return out


def vote_runs(run_sets: list[np.ndarray], weights, *, above: float) -> np.ndarray:
    """The pixels covered by runs whose weights add up to more than `above`, as disjoint sorted runs; a sweep over
    the run boundaries, so a vote over huge masks never decodes them to pixels."""
    if not run_sets:
        return np.zeros((0, 2), dtype=np.int64)
    starts = np.concatenate([r[:, 0] for r in run_sets])
    ends = np.concatenate([r[:, 1] for r in run_sets])
    w = np.concatenate([np.full(len(r), float(weight)) for r, weight in zip(run_sets, weights, strict=True)])
    position = np.concatenate([starts, ends])
    order = np.argsort(position, kind="stable")
    position, level = position[order], np.cumsum(np.concatenate([w, -w])[order])
    last = np.flatnonzero(np.append(position[1:] != position[:-1], True))  # the level after all events at a spot
    position, on = position[last], level[last] > above + 1e-9
    segments = np.stack([position[:-1][on[:-1]], position[1:][on[:-1]]], axis=1)
    if len(segments) > 1:  # join runs that touch
        keep = np.append(True, segments[1:, 0] != segments[:-1, 1])
        group = np.cumsum(keep) - 1
        joined_ends = np.zeros(keep.sum(), dtype=segments.dtype)
        np.maximum.at(joined_ends, group, segments[:, 1])
        segments = np.stack([segments[keep, 0], joined_ends], axis=1)
    return segments


def runs_to_rle(runs: np.ndarray, size) -> dict:
    """Column-major RLE of disjoint sorted foreground runs in a mask of `size` [height, width]."""
    total = int(size[0]) * int(size[1])
    bounds = np.concatenate([[0], runs.reshape(-1), [total]]).astype(np.int64)
    counts = [int(c) for c in np.diff(bounds)]
    if len(counts) > 1 and counts[-1] == 0:
        counts.pop()  # a mask ending in foreground: no empty background run after it
    return {"size": [int(size[0]), int(size[1])], "counts": counts}


def rle_decode(rle: dict) -> np.ndarray:
    """The (height, width) boolean bitmap of a column-major RLE."""
    height, width = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    return np.repeat(values, counts).reshape(width, height).T


def rle_encode(bitmap: np.ndarray) -> dict:
    """Column-major RLE ({"size": [h, w], "counts": [...]}) of a boolean bitmap; counts start with a background run."""
    height, width = bitmap.shape
    flat = np.asarray(bitmap, dtype=bool).T.reshape(-1)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [int(height), int(width)], "counts": [int(c) for c in counts]}


def iou_matrix(kind: str, a: list[dict], b: list[dict]) -> np.ndarray:
    """IoU matrix of two lists of stored geometries of one area type."""
    if kind == "bbox":
        return box_iou_matrix(boxes_array(a), boxes_array(b))
    if kind == "mask":
        return mask_iou_matrix([g["rle"] for g in a], [g["rle"] for g in b])
    if kind in SHAPE_BUILDERS:
        return shape_iou_matrix(to_shapes(kind, a), to_shapes(kind, b))
    raise ValueError(f"No IoU for annotation type {kind!r}.")


AREA_TYPES = ("bbox", "rotated_bbox", "ellipse", "polygon", "mask")
