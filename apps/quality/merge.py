"""Merge several annotators' work on one item into one set of annotations.

merge_annotations(works, weights=None, quorum=None) takes {annotator: [annotation dict, ...]} (dicts as
apps.annotations.selectors.layer_contents gives them) and returns {"annotations": [...], "clusters": [...]}:

1. Shapes are clustered per type across annotators: annotators are taken in sorted order; each one's shapes are
   matched one to one (optimal matching, apps.quality.metrics.matching) to the clusters so far on their mean
   similarity with the cluster's members (IoU, OKS or distance as in metrics.item, same thresholds); an unmatched
   shape starts a new cluster. Clustering ignores labels (annotators who drew the same object and named it
   differently are one cluster) but not frames (a shape joins only clusters of its own frame); a cluster never
   holds two shapes of one annotator.
2. A cluster is kept when at least `quorum` annotators drew it (default: a strict majority, n // 2 + 1).
3. Its label is the weighted majority vote of its members' labels; each attribute is the majority vote of the
   values given by the members with that label (an attribute nobody gave is left out).
4. Its geometry:
   - bbox: weighted box fusion, each corner the average of the members' corners weighted by
     w = annotator weight x the annotation's confidence (1 when it has none);
   - mask: per-pixel vote, a pixel is in the fused mask when members holding more than half of the cluster's
     weight painted it (an empty result falls back to the medoid);
   - every other type: the medoid, the member with the largest sum of similarity to the other members
     (ties to the first annotator in sorted order).
5. Classifications: a label (per frame) is kept when at least `quorum` annotators gave it; attributes by
   majority vote. A merged annotation of a frame other than 0 carries its "frame".

majority_vote(values, weights) ties: the larger total weight wins, then the larger number of votes, then the value
whose JSON text (keys sorted) sorts first, so the result never depends on the order annotators are listed in.
"""

import json
from collections import defaultdict

import numpy as np

from apps.quality.metrics.geometry import rle_runs, runs_to_rle, vote_runs
from apps.quality.metrics.item import DEFAULT, SHAPE_TYPES, Settings, similarity
from apps.quality.metrics.matching import match


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def majority_vote(values: list, weights: list[float] | None = None):
    """The winning value (see the module's docstring for ties); None for no votes."""
    if not values:
        return None
    weights = weights if weights is not None else [1.0] * len(values)
    tally: dict[str, list] = {}
    for value, weight in zip(values, weights, strict=True):
        key = _canonical(value)
        entry = tally.setdefault(key, [0.0, 0, value])
        entry[0] += weight
        entry[1] += 1
    best = min(tally.items(), key=lambda kv: (-round(kv[1][0], 12), -kv[1][1], kv[0]))
    return best[1][2]


def _vote_attributes(members: list[dict], weights: list[float]) -> dict:
    votes: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for member, weight in zip(members, weights, strict=True):
        for name, value in (member.get("attributes") or {}).items():
            if value is not None:
                votes[name][0].append(value)
                votes[name][1].append(weight)
    return {name: majority_vote(values, ws) for name, (values, ws) in sorted(votes.items())}


def _cluster(kind: str, shapes: list[tuple], settings: Settings) -> list[list[tuple]]:
    """shapes: [(annotator, index, annotation)], annotators in sorted order. Returns the clusters' members."""
    clusters: list[list[tuple]] = []
    by_annotator = defaultdict(list)
    for shape in shapes:
        by_annotator[shape[0]].append(shape)
    for annotator in sorted(by_annotator):
        mine = by_annotator[annotator]
        if not clusters:
            clusters = [[shape] for shape in mine]
            continue
        members = [(c, member) for c, cluster in enumerate(clusters) for member in cluster]
        sim, threshold, _distance = similarity(kind, [s[2]["geometry"] for s in mine],
                                               [m[2]["geometry"] for _c, m in members], settings=settings,
                                               labels=[s[2]["label"] for s in mine])
        owner = np.array([c for c, _m in members])
        mean = np.stack([sim[:, owner == c].mean(axis=1) for c in range(len(clusters))], axis=1)
        result = match(mean, [_frame(s[2]) for s in mine], [_frame(cluster[0][2]) for cluster in clusters],
                       threshold=threshold)
        for i, c, _s in result.pairs:
            clusters[c].append(mine[i])
        clusters += [[mine[i]] for i in result.unmatched_a]
    return clusters


def _frame(annotation) -> int:
    return annotation.get("frame") or 0


def _with_frame(annotation: dict, frame: int) -> dict:
    return {**annotation, "frame": frame} if frame else annotation


def _weight(shape, weights) -> float:
    confidence = shape[2].get("confidence")
    return float(weights.get(shape[0], 1.0)) * (1.0 if confidence is None else float(confidence))


def _medoid(kind: str, members: list[tuple], settings: Settings) -> tuple:
    if len(members) == 1:
        return members[0]
    geometries = [m[2]["geometry"] for m in members]
    sim, _threshold, _distance = similarity(kind, geometries, geometries, settings=settings,
                                            labels=[m[2]["label"] for m in members])
    totals = sim.sum(axis=1) - np.diag(sim)
    return members[int(np.argmax(totals))]  # argmax: the first of equals, members are in annotator order


def _fuse_boxes(members: list[tuple], weights: list[float]) -> dict:
    corners = np.array([[g["x"], g["y"], g["x"] + g["w"], g["y"] + g["h"]]
                        for g in (m[2]["geometry"] for m in members)])
    w = np.asarray(weights, dtype=np.float64)
    w = w if w.sum() > 0 else np.ones_like(w)
    x0, y0, x1, y1 = (w @ corners) / w.sum()
    return {"x": float(x0), "y": float(y0), "w": float(x1 - x0), "h": float(y1 - y0)}


def _fuse_masks(members: list[tuple], weights: list[float]) -> dict | None:
    sizes = {tuple(m[2]["geometry"]["rle"]["size"]) for m in members}
    if len(sizes) != 1:
        return None
    w = np.asarray(weights, dtype=np.float64)
    w = w if w.sum() > 0 else np.ones_like(w)
    runs = vote_runs([rle_runs(m[2]["geometry"]["rle"]) for m in members], w, above=w.sum() / 2)
    return {"rle": runs_to_rle(runs, sizes.pop())} if len(runs) else None


def merge_annotations(works: dict, *, weights: dict | None = None, quorum: int | None = None,
                      settings: Settings = DEFAULT) -> dict:
    weights = weights or {}
    annotators = sorted(works)
    quorum = quorum if quorum is not None else len(annotators) // 2 + 1
    shapes, classes = defaultdict(list), defaultdict(list)
    for annotator in annotators:
        seen = set()
        for index, annotation in enumerate(works[annotator] or []):
            kind = annotation.get("type")
            if kind in SHAPE_TYPES and annotation.get("geometry") is not None:
                shapes[kind].append((annotator, index, annotation))
            elif kind == "classification" and (_frame(annotation), annotation["label"]) not in seen:
                seen.add((_frame(annotation), annotation["label"]))
                classes[(_frame(annotation), annotation["label"])].append((annotator, index, annotation))
    merged, clusters = [], []
    for kind in sorted(shapes):
        for members in _cluster(kind, shapes[kind], settings):
            record = {"type": kind, "members": [[m[0], m[1]] for m in members], "support": len(members)}
            clusters.append(record)
            if len(members) < quorum:
                record["kept"] = False
                continue
            member_weights = [_weight(m, weights) for m in members]
            label = majority_vote([m[2]["label"] for m in members], member_weights)
            labelled = [(m, w) for m, w in zip(members, member_weights, strict=True) if m[2]["label"] == label]
            geometry, method = None, "medoid"
            if kind == "bbox":
                geometry, method = _fuse_boxes(members, member_weights), "weighted_box_fusion"
            elif kind == "mask":
                geometry, method = _fuse_masks(members, member_weights), "pixel_vote"
            if geometry is None:
                geometry, method = _medoid(kind, members, settings)[2]["geometry"], "medoid"
            record.update(kept=True, label=label, method=method)
            merged.append(_with_frame({
                "type": kind, "label": label, "geometry": geometry,
                "attributes": _vote_attributes([m[2] for m, _w in labelled], [w for _m, w in labelled])},
                _frame(members[0][2])))
    for frame, label in sorted(classes):
        members = classes[(frame, label)]
        kept = len(members) >= quorum
        clusters.append({"type": "classification", "label": label, "members": [[m[0], m[1]] for m in members],
                         "support": len(members), "kept": kept, "method": "vote"})
        if kept:
            merged.append(_with_frame({
                "type": "classification", "label": label, "geometry": None,
                "attributes": _vote_attributes([m[2] for m in members], [_weight(m, weights) for m in members])},
                frame))
    return {"annotations": merged, "clusters": clusters}
