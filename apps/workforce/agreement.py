"""How much people's annotations of one item agree, and what their merged answer is: the workforce's adapter to
the quality metrics (apps.quality.metrics) and merge strategies (apps.quality.merge).

- gold: a unit's work is scored against the gold item's truth (gold_score: per-type optimal matching at the
  metrics' thresholds, F1 per shape type, Jaccard of classification labels, attribute agreement on matched pairs);
- consensus: every pair of slots is scored with item_agreement, the item's score is the mean over pairs and the
  slot agreeing most with the others is chosen (ties to the lowest unit id);
- merge: when consensus is reached, the slots' work is merged (boxes fused, masks voted pixel by pixel, classes and
  attributes by majority, other shapes from the medoid), each slot's work weighted alike.
Both sides empty means full agreement. Given the task's recipe spec, keypoint skeletons whose point names are
COCO's are scored with COCO's per-point sigmas."""

from apps.quality.merge import merge_annotations
from apps.quality.metrics import DEFAULT, Settings, consensus_score, gold_score, item_agreement


def settings_for(spec: dict | None) -> Settings:
    if not spec:
        return DEFAULT
    skeletons = {label["name"]: label["skeleton"]["points"] for label in spec.get("labels", [])
                 if label.get("skeleton")}
    return Settings(skeletons=skeletons)


def agreement(a: list[dict], b: list[dict], *, spec: dict | None = None) -> dict:
    """{"score", "types", "classes", "attributes"} for two people's annotations of one item."""
    return item_agreement(a, b, settings=settings_for(spec))


def gold_result(work: list[dict], truth: list[dict], *, spec: dict | None = None) -> dict:
    """The work scored against the truth: {"score", "types", "classes", "attributes"}; "a" is the work."""
    return gold_score(work, truth, settings=settings_for(spec))


def consensus(works: dict[int, list[dict]], *, spec: dict | None = None) -> tuple[float, int | None, list[dict]]:
    """(mean pairwise score, the unit agreeing most with the others, per-pair scores) for {unit_id: annotations}."""
    result = consensus_score(works, settings=settings_for(spec))
    return result["score"], result["chosen"], result["pairs"]


def merged(works: dict[int, list[dict]], *, spec: dict | None = None) -> list[dict]:
    """The slots' work merged into one set of annotations (type, label, attributes, geometry)."""
    return merge_annotations(works, settings=settings_for(spec))["annotations"]
