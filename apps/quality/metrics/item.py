"""One item, two or more people's annotations: how much they agree, as one score in [0, 1] with its breakdown.

Annotations are plain dicts as apps.annotations.selectors.layer_contents gives them: {"type", "label",
"attributes", "geometry", "frame"} (frame optional, 0 by default; extra keys ignored). Shapes and classifications
only ever match within one frame. The parts of the score:

- one part per shape type either side drew, its F1 after optimal label-aware matching (apps.quality.metrics
  .matching) on the type's similarity: IoU for bbox, rotated_bbox, ellipse, polygon and mask (>= settings.iou);
  OKS for keypoints (>= settings.oks); for points and polylines 1 - distance / tolerance (>= 0, that is within
  settings.point_px or settings.polyline_px pixels, polylines by their symmetric mean distance);
- "classes": the Jaccard index of the two sets of classification labels, |A ∩ B| / |A or B| (for single-choice
  classifications: 1 when they agree, 0 when not);
- "attributes": over matched shapes and classifications given the same label, the share of attribute names
  (either side's) on which both gave the same value; present only when some attribute was compared.
score = the unweighted mean of the parts present; nothing on either side = 1.

gold_score(candidate, truth) is the same with the truth as the reference (precision and recall keep their
direction; OKS scales by the truth's skeleton). consensus_score(works) is the mean over all pairs of annotators.
Indices in "pairs", "unmatched_a/b" and "confusions" point into the lists given, so a page can show where two
people differed.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from .geometry import AREA_TYPES, iou_matrix
from .matching import match
from .points import distance_similarity, oks_matrix, point_distance_matrix, polyline_distance_matrices


@dataclass(frozen=True)
class Settings:
    iou: float = 0.5
    oks: float = 0.5
    point_px: float = 10.0
    polyline_px: float = 10.0
    skeletons: dict = field(default_factory=dict)  # {label: [point names]}: COCO's sigmas for COCO's names


DEFAULT = Settings()
SHAPE_TYPES = (*AREA_TYPES, "keypoints", "point", "polyline")


def _key(annotation):
    """What must agree for two annotations to match: the label, and the frame when it is not the first."""
    frame = annotation.get("frame") or 0
    return annotation["label"] if frame == 0 else f"{annotation['label']} (frame {frame})"


def _by_type(annotations) -> dict[str, list[int]]:
    groups = defaultdict(list)
    for index, annotation in enumerate(annotations):
        if annotation.get("type") in SHAPE_TYPES and annotation.get("geometry") is not None:
            groups[annotation["type"]].append(index)
    return groups


def similarity(kind: str, a: list[dict], b: list[dict], *, settings: Settings = DEFAULT, reference: bool = False,
               labels: list | None = None) -> tuple[np.ndarray, float, np.ndarray | None]:
    """(similarity matrix, threshold, distance matrix or None) for geometries of one type."""
    if kind in AREA_TYPES:
        return iou_matrix(kind, a, b), settings.iou, None
    if kind == "keypoints":
        names = settings.skeletons.get(labels[0]) if labels else None
        return oks_matrix(a, b, symmetric=not reference, names=names), settings.oks, None
    if kind == "point":
        distance = point_distance_matrix(a, b)
        return distance_similarity(distance, settings.point_px), 0.0, distance
    if kind == "polyline":
        distance, _hausdorff = polyline_distance_matrices(a, b, tolerance=settings.polyline_px)
        return distance_similarity(distance, settings.polyline_px), 0.0, distance
    raise ValueError(f"No similarity for annotation type {kind!r}.")


def _shape_part(kind, a, b, idx_a, idx_b, settings, reference) -> tuple[dict, list[tuple[int, int]]]:
    geo_a, geo_b = [a[i]["geometry"] for i in idx_a], [b[j]["geometry"] for j in idx_b]
    labels_a, labels_b = [_key(a[i]) for i in idx_a], [_key(b[j]) for j in idx_b]
    if idx_a and idx_b:
        sim, threshold, distance = similarity(kind, geo_a, geo_b, settings=settings, reference=reference,
                                              labels=[a[i]["label"] for i in idx_a])
    else:
        sim, threshold, distance = np.zeros((len(idx_a), len(idx_b))), 0.0, None
    result = match(sim, labels_a, labels_b, threshold=threshold)
    part = result.as_dict()
    part["score"] = result.f1
    if distance is not None:
        part["mean_distance"] = float(np.mean([distance[i, j] for i, j, _s in result.pairs])) if result.pairs \
            else None
    # indices into the lists the caller gave
    part["pairs"] = [[idx_a[i], idx_b[j], s] for i, j, s in part["pairs"]]
    part["unmatched_a"] = [idx_a[i] for i in part["unmatched_a"]]
    part["unmatched_b"] = [idx_b[j] for j in part["unmatched_b"]]
    part["confusions"] = [[idx_a[i], idx_b[j], s] for i, j, s in part["confusions"]]
    return part, [(idx_a[i], idx_b[j]) for i, j, _s in result.pairs]


def _attribute_part(a, b, pairs) -> dict | None:
    compared = agreed = 0
    differences = []
    for i, j in pairs:
        values_a, values_b = a[i].get("attributes") or {}, b[j].get("attributes") or {}
        for name in sorted(set(values_a) | set(values_b)):
            compared += 1
            if values_a.get(name) == values_b.get(name):
                agreed += 1
            else:
                differences.append({"a": i, "b": j, "attribute": name,
                                    "value_a": values_a.get(name), "value_b": values_b.get(name)})
    if not compared:
        return None
    return {"score": agreed / compared, "compared": compared, "agreed": agreed, "differences": differences}


def _score(a: list[dict], b: list[dict], *, settings: Settings, reference: bool) -> dict:
    a, b = list(a or []), list(b or [])
    types_a, types_b = _by_type(a), _by_type(b)
    types, pairs = {}, []
    for kind in sorted(set(types_a) | set(types_b)):
        types[kind], matched = _shape_part(kind, a, b, types_a.get(kind, []), types_b.get(kind, []), settings,
                                           reference)
        pairs += matched
    classes_a = {_key(x): i for i, x in reversed(list(enumerate(a))) if x.get("type") == "classification"}
    classes_b = {_key(x): j for j, x in reversed(list(enumerate(b))) if x.get("type") == "classification"}
    classes = None
    if classes_a or classes_b:
        common = set(classes_a) & set(classes_b)
        classes = {"score": len(common) / len(set(classes_a) | set(classes_b)),
                   "a": sorted(classes_a), "b": sorted(classes_b),
                   "only_a": sorted(set(classes_a) - common), "only_b": sorted(set(classes_b) - common)}
        pairs += [(classes_a[label], classes_b[label]) for label in sorted(common)]
    attributes = _attribute_part(a, b, pairs)
    parts = [p["score"] for p in types.values()]
    parts += [p["score"] for p in (classes, attributes) if p is not None]
    return {
        "score": float(np.mean(parts)) if parts else 1.0,
        "types": types,
        "classes": classes,
        "attributes": attributes,
    }


def item_agreement(annotations_a: list[dict], annotations_b: list[dict], *, settings: Settings = DEFAULT) -> dict:
    """Agreement of two annotators on one item (symmetric in score)."""
    return _score(annotations_a, annotations_b, settings=settings, reference=False)


def gold_score(candidate: list[dict], truth: list[dict], *, settings: Settings = DEFAULT) -> dict:
    """How well one person's annotations of an item match its ground truth ("a" = candidate, "b" = truth)."""
    return _score(candidate, truth, settings=settings, reference=True)


def consensus_score(works: dict, *, settings: Settings = DEFAULT) -> dict:
    """Agreement of n annotators on one item: {"score": mean pairwise score, "chosen": the annotator (key) agreeing
    most with the others (highest sum of pairwise scores; ties go to the smallest key), "pairs": [{"a", "b",
    "score"}], "totals": {key: sum}}. One or no annotator: score 1."""
    keys = sorted(works)
    pairs = [{"a": x, "b": y, "score": item_agreement(works[x], works[y], settings=settings)["score"]}
             for x, y in combinations(keys, 2)]
    totals = {key: 0.0 for key in keys}
    for pair in pairs:
        totals[pair["a"]] += pair["score"]
        totals[pair["b"]] += pair["score"]
    chosen = max(keys, key=lambda key: totals[key]) if keys else None
    return {"score": float(np.mean([p["score"] for p in pairs])) if pairs else 1.0, "chosen": chosen,
            "pairs": pairs, "totals": totals}
