"""How much two people's annotations of one item agree, from 0 to 1. Simple on purpose (the Quality issue grows
it): classifications by the Jaccard index of their label sets; shapes matched one to one by label and bounding-box
IoU (greedy, best pair first) at IOU_THRESHOLD, scored as F1 = 2 matches / (|A| + |B|); the two averaged over the
parts either side has. Both empty: full agreement."""

from itertools import combinations

from apps.annotations.geometry import bounding_box

IOU_THRESHOLD = 0.5


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    if aw <= 0 or ah <= 0 or bw <= 0 or bh <= 0:  # points: the same spot within a pixel
        return 1.0 if abs(ax - bx) <= 1 and abs(ay - by) <= 1 else 0.0
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _shapes(annotations) -> list[tuple[str, tuple]]:
    return [(a["label"], bounding_box(a["type"], a["geometry"])) for a in annotations
            if a["type"] != "classification" and a.get("geometry") is not None]


def _matches(a, b) -> tuple[int, list[tuple[int, int, float]]]:
    pairs = sorted(((iou, i, j) for i, (la, ba) in enumerate(a) for j, (lb, bb) in enumerate(b)
                    if la == lb and (iou := _iou(ba, bb)) >= IOU_THRESHOLD), reverse=True)
    used_a, used_b, matched = set(), set(), []
    for iou, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            matched.append((i, j, iou))
    return len(matched), matched


def agreement(a: list[dict], b: list[dict]) -> dict:
    """{"score", "shapes": {"a", "b", "matched"}, "classes": {"a", "b"}} for two lists of annotation dicts."""
    shapes_a, shapes_b = _shapes(a), _shapes(b)
    classes_a = {x["label"] for x in a if x["type"] == "classification"}
    classes_b = {x["label"] for x in b if x["type"] == "classification"}
    parts = []
    matched, _pairs = _matches(shapes_a, shapes_b)
    if shapes_a or shapes_b:
        parts.append(2 * matched / (len(shapes_a) + len(shapes_b)))
    if classes_a or classes_b:
        parts.append(len(classes_a & classes_b) / len(classes_a | classes_b))
    return {
        "score": sum(parts) / len(parts) if parts else 1.0,
        "shapes": {"a": len(shapes_a), "b": len(shapes_b), "matched": matched},
        "classes": {"a": sorted(classes_a), "b": sorted(classes_b)},
    }


def consensus(works: dict[int, list[dict]]) -> tuple[float, int | None, list[dict]]:
    """(mean pairwise score, the unit agreeing most with the others, per-pair scores) for {unit_id: annotations}."""
    pairs = [{"a": x, "b": y, "score": agreement(works[x], works[y])["score"]} for x, y in combinations(works, 2)]
    if not pairs:
        only = next(iter(works), None)
        return 1.0, only, []
    totals = {unit: 0.0 for unit in works}
    for pair in pairs:
        totals[pair["a"]] += pair["score"]
        totals[pair["b"]] += pair["score"]
    chosen = max(sorted(totals), key=lambda unit: totals[unit])
    return sum(p["score"] for p in pairs) / len(pairs), chosen, pairs
