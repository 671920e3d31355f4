"""Similarity of shapes without an area: keypoint skeletons (OKS), points and polylines (distances).

Object keypoint similarity (COCO), for a candidate skeleton c against a reference skeleton r:

    OKS = sum_i exp(-d_i^2 / (2 s^2 k_i^2)) [v_i > 0]  /  sum_i [v_i > 0],    k_i = 2 sigma_i

d_i is the distance between the two placements of point i, s^2 the object's area (here the area of the
bounding box of the reference's placed points, at least MIN_AREA px^2 so a one-point skeleton still has a scale),
v_i the reference's visibility (0 absent, 1 hidden, 2 visible; hidden points count, as in COCO). A point the
reference placed and the candidate marked absent contributes 0. No point placed in the reference: OKS 1 when the
candidate placed none either, else 0. Symmetric agreement between two annotators (neither is the truth) counts
the points either placed and takes s^2 as the mean of both areas.
sigma_i: COCO's per-keypoint values for skeletons whose point names are COCO's, DEFAULT_SIGMA otherwise.

Points: similarity = 1 - d / tolerance (d the Euclidean distance in pixels), so a threshold of 0 matches points
within `tolerance` pixels. Polylines: d = the symmetric mean distance, the mean over both lines' vertices
(densified every `tolerance / 2` px) of the distance to the other line; Hausdorff distance reported beside it.
"""

import warnings

import numpy as np
import shapely

DEFAULT_SIGMA = 0.05
MIN_AREA = 1.0
COCO_SIGMAS = {
    "nose": 0.026, "left_eye": 0.025, "right_eye": 0.025, "left_ear": 0.035, "right_ear": 0.035,
    "left_shoulder": 0.079, "right_shoulder": 0.079, "left_elbow": 0.072, "right_elbow": 0.072,
    "left_wrist": 0.062, "right_wrist": 0.062, "left_hip": 0.107, "right_hip": 0.107,
    "left_knee": 0.087, "right_knee": 0.087, "left_ankle": 0.089, "right_ankle": 0.089,
}


def sigmas_for(names: list[str] | None, n: int) -> np.ndarray:
    if names and len(names) == n:
        return np.array([COCO_SIGMAS.get(str(name).lower().replace(" ", "_"), DEFAULT_SIGMA) for name in names])
    return np.full(n, DEFAULT_SIGMA)


def _skeleton_array(geometries) -> np.ndarray:
    """(n, k, 3): x, y, v per skeleton point."""
    return np.array([g["points"] for g in geometries], dtype=np.float64).reshape(len(geometries), -1, 3)


def _areas(skeletons: np.ndarray) -> np.ndarray:
    placed = skeletons[:, :, 2] > 0
    xs = np.where(placed, skeletons[:, :, 0], np.nan)
    ys = np.where(placed, skeletons[:, :, 1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a skeleton with nothing placed: all-NaN rows
        width = np.nan_to_num(np.nanmax(xs, axis=1) - np.nanmin(xs, axis=1))
        height = np.nan_to_num(np.nanmax(ys, axis=1) - np.nanmin(ys, axis=1))
    return np.maximum(width * height, MIN_AREA)


def oks_matrix(a: list[dict], b: list[dict], *, sigmas: np.ndarray | None = None, symmetric: bool = False,
               names: list[str] | None = None) -> np.ndarray:
    """OKS of every skeleton in a (candidates) against every skeleton in b (references); (n, m) in [0, 1]."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    ska, skb = _skeleton_array(a), _skeleton_array(b)
    if ska.shape[1] != skb.shape[1]:
        return np.zeros((len(a), len(b)))  # different skeletons never match
    k = ska.shape[1]
    sig = np.asarray(sigmas, dtype=np.float64) if sigmas is not None else sigmas_for(names, k)
    va, vb = ska[:, None, :, 2] > 0, skb[None, :, :, 2] > 0          # (n, 1, k), (1, m, k)
    d2 = ((ska[:, None, :, :2] - skb[None, :, :, :2]) ** 2).sum(axis=-1)  # (n, m, k)
    if symmetric:
        area = (_areas(ska)[:, None] + _areas(skb)[None, :]) / 2
        counted = va | vb
    else:
        area = np.broadcast_to(_areas(skb)[None, :], (len(a), len(b)))
        counted = np.broadcast_to(vb, (len(a), len(b), k))
    both = va & vb
    e = np.where(both, np.exp(-d2 / (2 * area[:, :, None] * (2 * sig[None, None, :]) ** 2)), 0.0)
    n_counted = counted.sum(axis=-1)
    none_placed = (~va).all(axis=-1) if not symmetric else np.ones_like(n_counted, dtype=bool)
    return np.where(n_counted > 0, (e * counted).sum(axis=-1) / np.maximum(n_counted, 1),
                    np.where(none_placed, 1.0, 0.0))


def point_distance_matrix(a: list[dict], b: list[dict]) -> np.ndarray:
    pa = np.array([[g["x"], g["y"]] for g in a], dtype=np.float64).reshape(-1, 2)
    pb = np.array([[g["x"], g["y"]] for g in b], dtype=np.float64).reshape(-1, 2)
    return np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(axis=-1))


def polyline_distance_matrices(a: list[dict], b: list[dict], *, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """(symmetric mean distance, Hausdorff distance) of every polyline pair, in pixels."""
    lines_a = np.array([shapely.LineString(g["points"]) for g in a], dtype=object)
    lines_b = np.array([shapely.LineString(g["points"]) for g in b], dtype=object)
    mean = np.zeros((len(a), len(b)))
    hausdorff = np.zeros((len(a), len(b)))
    if not len(a) or not len(b):
        return mean, hausdorff
    step = max(tolerance / 2, 1e-6)
    vertices_a = [shapely.points(shapely.get_coordinates(shapely.segmentize(line, step))) for line in lines_a]
    vertices_b = [shapely.points(shapely.get_coordinates(shapely.segmentize(line, step))) for line in lines_b]
    for i in range(len(a)):
        for j in range(len(b)):
            forward = shapely.distance(vertices_a[i], lines_b[j])
            backward = shapely.distance(vertices_b[j], lines_a[i])
            mean[i, j] = (forward.sum() + backward.sum()) / (len(forward) + len(backward))
            hausdorff[i, j] = max(forward.max(), backward.max())
    return mean, hausdorff


def distance_similarity(distance: np.ndarray, tolerance: float) -> np.ndarray:
    """1 - d / tolerance: 1 on top of each other, 0 at the tolerance, negative beyond it."""
    return 1.0 - np.asarray(distance, dtype=np.float64) / tolerance
