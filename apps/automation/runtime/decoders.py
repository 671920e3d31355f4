"""Model outputs -> annotation dicts in the shape apps/annotations accepts (geometry in image pixels).

Every decoder takes the outputs of ONE image (a dict of name -> array, a leading batch axis of 1 allowed), the
image's Transform, the DecoderSpec and the label map (class index -> label name; unmapped classes are dropped),
and returns a list of dicts: {"type", "label", "geometry", "confidence", "source": "model",
"review_state": "proposed"}. The engine adds "model_version". A tensor that does not fit raises DecoderError.
"""

import numpy as np

from .geometry import component_rings, min_area_rect, rect_corners, ring_area, simplify_ring
from .preprocess import Transform
from .spec import DecoderSpec

MAX_POLYGON_VERTICES = 2_000


class DecoderError(ValueError):
    pass


def _annotation(kind: str, label: str, geometry, confidence) -> dict:
    out = {"type": kind, "label": label, "geometry": geometry, "source": "model", "review_state": "proposed"}
    if confidence is not None:
        out["confidence"] = round(float(min(max(confidence, 0.0), 1.0)), 6)
    return out


def _squeeze_batch(array: np.ndarray, ndim: int, name: str) -> np.ndarray:
    array = np.asarray(array)
    while array.ndim > ndim and array.shape[0] == 1:
        array = array[0]
    if array.ndim != ndim:
        raise DecoderError(f"Output {name!r} has shape {list(array.shape)}; expected {ndim} dimensions "
                           "(after a batch axis of 1).")
    return array


def _single(outputs: dict, name: str | None = None) -> tuple[str, np.ndarray]:
    if name is not None:
        return name, outputs[name]
    if len(outputs) != 1:
        raise DecoderError(f"Expected one output, the model has {len(outputs)}: {', '.join(outputs)}.")
    return next(iter(outputs.items()))


# --- classification -----------------------------------------------------------------------------------------


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def decode_softmax(outputs, transform: Transform, spec: DecoderSpec, label_map: dict[int, str]) -> list[dict]:
    name, raw = _single(outputs)
    scores = _squeeze_batch(raw, 1, name).astype(np.float64)
    if not np.all(np.isfinite(scores)):
        raise DecoderError(f"Output {name!r} holds NaN or infinite values.")
    probs = softmax(scores) if spec.get("apply_softmax", True) else scores
    order = np.argsort(-probs, kind="stable")
    out = []
    for index in order:
        if len(out) >= spec.get("top_k", 1) or probs[index] < spec.get("threshold", 0.0):
            break
        label = label_map.get(int(index))
        if label is not None:
            out.append(_annotation("classification", label, None, probs[index]))
    return out


# --- detection ----------------------------------------------------------------------------------------------


def to_xyxy(boxes: np.ndarray, box_format: str) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if box_format == "xyxy":
        return boxes.copy()
    if box_format == "xywh":
        return np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]])
    cx, cy, w, h = boxes.T
    return np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS over xyxy boxes: indexes kept, best first. Equal scores keep the earlier box; a box is
    suppressed when its IoU with a kept one is strictly above the threshold."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best = order[0]
        keep.append(int(best))
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes, scores, classes, iou_threshold: float) -> np.ndarray:
    """Per-class NMS: boxes of different classes never suppress each other. Indexes kept, best first."""
    keep = [idx[nms(boxes[idx], scores[idx], iou_threshold)] for c in np.unique(classes)
            for idx in [np.flatnonzero(classes == c)]]
    if not keep:
        return np.zeros(0, dtype=np.int64)
    keep = np.concatenate(keep)
    return keep[np.argsort(-scores[keep], kind="stable")]


def _finish_detection(xyxy, scores, classes, transform: Transform, spec: DecoderSpec, label_map) -> list[dict]:
    if spec.get("normalized"):
        xyxy = xyxy * np.array([transform.input_width, transform.input_height] * 2, dtype=np.float64)
    finite = np.all(np.isfinite(xyxy), axis=1) & np.isfinite(scores)
    mapped = np.array([int(c) in label_map for c in classes], dtype=bool) if len(classes) else np.zeros(0, bool)
    chosen = np.flatnonzero(finite & mapped & (scores >= spec.get("score_threshold", 0.25)))
    xyxy, scores, classes = xyxy[chosen], scores[chosen], classes[chosen]
    keep = batched_nms(xyxy, scores, classes, spec.get("iou_threshold", 0.45))[: spec.get("max_detections", 300)]
    out = []
    for i in keep:
        x1, y1 = transform.to_image(xyxy[i, 0], xyxy[i, 1])
        x2, y2 = transform.to_image(xyxy[i, 2], xyxy[i, 3])
        w, h = float(x2 - x1), float(y2 - y1)
        if w <= 0 or h <= 0:
            continue
        geometry = {"x": round(float(x1), 2), "y": round(float(y1), 2), "w": round(w, 2), "h": round(h, 2)}
        geometry["w"] = min(geometry["w"], transform.width - geometry["x"])
        geometry["h"] = min(geometry["h"], transform.height - geometry["y"])
        if geometry["w"] <= 0 or geometry["h"] <= 0:
            continue
        out.append(_annotation("bbox", label_map[int(classes[i])], geometry, scores[i]))
    return out


def _find_output(outputs: dict, explicit: str | None, hints: tuple[str, ...], role: str) -> np.ndarray:
    if explicit:
        if explicit not in outputs:
            raise DecoderError(f"The model has no output named {explicit!r} for {role}.")
        return outputs[explicit]
    for name, value in outputs.items():
        if any(h in name.lower() for h in hints):
            return value
    raise DecoderError(f"No output for {role} (outputs are {', '.join(outputs)}).")


def decode_boxes_scores_labels(outputs, transform, spec: DecoderSpec, label_map) -> list[dict]:
    names = spec.get("outputs") or {}
    boxes = _squeeze_batch(_find_output(outputs, names.get("boxes"), ("box",), "boxes"), 2, "boxes")
    scores = _squeeze_batch(_find_output(outputs, names.get("scores"), ("score", "conf"), "scores"), 1, "scores")
    labels = _squeeze_batch(_find_output(outputs, names.get("labels"), ("label", "class"), "labels"), 1, "labels")
    if boxes.shape[-1] != 4 or not boxes.shape[0] == scores.shape[0] == labels.shape[0]:
        raise DecoderError(f"boxes {list(boxes.shape)}, scores {list(scores.shape)} and labels "
                           f"{list(labels.shape)} do not line up as [N, 4], [N], [N].")
    xyxy = to_xyxy(boxes, spec.get("box_format", "xyxy"))
    classes = np.rint(np.asarray(labels, dtype=np.float64)).astype(np.int64)
    return _finish_detection(xyxy, np.asarray(scores, dtype=np.float64), classes, transform, spec, label_map)


def decode_dense(outputs, transform, spec: DecoderSpec, label_map) -> list[dict]:
    """[N, 4+C] (YOLOv5 style with objectness: [N, 5+C]) or transposed [4+C, N] (YOLOv8 style)."""
    name, raw = _single(outputs)
    table = _squeeze_batch(raw, 2, name).astype(np.float64)
    extra = 5 if spec.get("objectness") else 4
    transposed = spec.get("transposed", "auto")
    if transposed == "yes":
        table = table.T
    elif transposed == "auto":
        # YOLOv8 exports [4+C, anchors] with far more anchors than classes; a row must hold every mapped class.
        needed = extra + (max(label_map) + 1 if label_map else 1)
        if (table.shape[0] < table.shape[1] and table.shape[0] >= needed) or table.shape[1] < needed <= table.shape[0]:
            table = table.T
    if table.shape[0] == 0:
        return []
    if table.shape[1] <= extra:
        raise DecoderError(f"Output {name!r} rows have {table.shape[1]} values; a detection row is 4 box values "
                           f"{'+ objectness ' if extra == 5 else ''}+ one score per class.")
    class_scores = table[:, extra:]
    if spec.get("objectness"):
        class_scores = class_scores * table[:, 4:5]
    classes = np.argmax(class_scores, axis=1)
    scores = class_scores[np.arange(len(classes)), classes]
    return _finish_detection(to_xyxy(table[:, :4], spec.get("box_format", "cxcywh")), scores, classes, transform,
                             spec, label_map)


# --- pixel maps: runs, components, polygons -----------------------------------------------------------------


def mask_runs(mask: np.ndarray) -> np.ndarray:
    """Horizontal runs of True pixels as rows of (y, x_start, x_end_exclusive), in row-major order."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    steps = np.diff(padded, axis=1)
    starts = np.argwhere(steps == 1)
    ends = np.argwhere(steps == -1)
    return np.column_stack([starts[:, 0], starts[:, 1], ends[:, 1]]) if len(starts) else np.zeros((0, 3), np.int64)


def run_components(runs: np.ndarray) -> np.ndarray:
    """Labels runs into 4-connected components: the component id (0..k-1) of each run."""
    rows = runs.tolist()
    n = len(rows)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    i = prev_lo = prev_hi = 0
    prev_y = None
    while i < n:
        y, lo = rows[i][0], i
        while i < n and rows[i][0] == y:
            i += 1
        if prev_y == y - 1:
            j = prev_lo
            for r in range(lo, i):
                x0, x1 = rows[r][1], rows[r][2]
                while j < prev_hi and rows[j][2] <= x0:
                    j += 1
                k = j
                while k < prev_hi and rows[k][1] < x1:
                    a, b = find(r), find(k)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
                    k += 1
        prev_lo, prev_hi, prev_y = lo, i, y
    roots = np.fromiter((find(i) for i in range(n)), dtype=np.int64, count=n)
    return np.unique(roots, return_inverse=True)[1] if n else roots


def _ring(points: np.ndarray, transform: Transform | None) -> list[list[float]]:
    if transform is not None:
        xs, ys = transform.to_image(points[:, 0], points[:, 1])
        points = np.column_stack([xs, ys])
    return [[round(float(x), 2), round(float(y), 2)] for x, y in points]


def polygon_geometry(exterior: np.ndarray, holes=(), transform: Transform | None = None) -> dict | None:
    """{"exterior", "holes"} in image pixels, or None for a ring too small or too large to keep. (The annotation
    service checks validity again; the pre-annotation service drops what it refuses.)"""
    outer = _ring(exterior, transform)
    inner = [_ring(h, transform) for h in holes if len(h) >= 3]
    if len(outer) < 3 or abs(ring_area(np.asarray(outer))) <= 0:
        return None
    if len(outer) + sum(map(len, inner)) > MAX_POLYGON_VERTICES:
        return None
    return {"exterior": outer, "holes": inner}


def runs_polygons(runs: np.ndarray, simplify: float) -> list[dict]:
    """The outline of a component's pixels: its exterior ring and holes, simplified."""
    rings = component_rings(runs)
    exteriors = [r for r in rings if ring_area(r) > 0]
    if not exteriors:
        return []
    exterior = max(exteriors, key=ring_area)
    holes = [simplify_ring(r, simplify) for r in rings if ring_area(r) < 0]
    geometry = polygon_geometry(simplify_ring(exterior, simplify), holes)
    return [geometry] if geometry else []


# --- segmentation -------------------------------------------------------------------------------------------


def _image_class_map(classes: np.ndarray, transform: Transform) -> np.ndarray:
    """The model-space class map resampled (nearest) onto the original image's pixel grid."""
    xs = ((np.arange(transform.width) + 0.5) * transform.sx + transform.pad_x).astype(np.int64)
    ys = ((np.arange(transform.height) + 0.5) * transform.sy + transform.pad_y).astype(np.int64)
    xs = np.clip(xs, 0, classes.shape[1] - 1)
    ys = np.clip(ys, 0, classes.shape[0] - 1)
    return classes[np.ix_(ys, xs)]


def rle_encode(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE (column-major, counts start with a run of zeros)."""
    flat = np.asarray(mask, dtype=np.uint8).flatten(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0, *counts]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def decode_mask(outputs, transform, spec: DecoderSpec, label_map) -> list[dict]:
    name, raw = _single(outputs)
    raw = np.asarray(raw)
    confidence_map = None
    if np.issubdtype(raw.dtype, np.floating) and raw.ndim >= 3:
        # [1, C, H, W] or [C, H, W] scores; one channel is a foreground probability for class 1.
        scores = _squeeze_batch(raw, 3, name).astype(np.float32)
        if not np.all(np.isfinite(scores)):
            raise DecoderError(f"Output {name!r} holds NaN or infinite values.")
        if scores.shape[0] == 1:
            classes = (scores[0] >= 0.5).astype(np.int64)
            confidence_map = np.where(classes == 1, scores[0], 1 - scores[0])
        else:
            classes = np.argmax(scores, axis=0)
            probs = softmax(scores, axis=0) if scores.min() < 0 or scores.max() > 1 else scores
            confidence_map = np.take_along_axis(probs, classes[None], axis=0)[0]
    else:
        classes = np.rint(_squeeze_batch(raw, 2, name)).astype(np.int64)
    image_classes = _image_class_map(classes, transform)
    image_conf = _image_class_map(confidence_map, transform) if confidence_map is not None else None
    out = []
    background = spec.get("background", 0)
    for index in np.unique(image_classes):
        label = label_map.get(int(index))
        if label is None or int(index) == background:
            continue
        mask = image_classes == index
        if mask.sum() < max(1, spec.get("min_area", 4)):
            continue
        confidence = float(image_conf[mask].mean()) if image_conf is not None else None
        if spec.get("output") == "rle":
            out.append(_annotation("mask", label, {"rle": rle_encode(mask)}, confidence))
            continue
        runs = mask_runs(mask)
        components = run_components(runs)
        for component in range(int(components.max()) + 1 if len(components) else 0):
            part = runs[components == component]
            if (part[:, 2] - part[:, 1]).sum() < spec.get("min_area", 4):
                continue
            for geometry in runs_polygons(part, spec.get("simplify", 1.0)):
                out.append(_annotation("polygon", label, geometry, confidence))
    return out


# --- text detection (DBNet probability map) -----------------------------------------------------------------


def decode_dbnet(outputs, transform, spec: DecoderSpec, label_map) -> list[dict]:
    """DBNet (PP-OCR) text detection: threshold the probability map, one rotated rectangle per connected region,
    expanded by the unclip ratio (the network predicts shrunk regions), scored by the mean probability inside."""
    name, raw = _single(outputs)
    prob = _squeeze_batch(raw, 2, name).astype(np.float32)
    label = label_map.get(0)
    if label is None:
        return []
    runs = mask_runs(prob > spec.get("thresh", 0.3))
    if not len(runs):
        return []
    components = run_components(runs)
    # Mean probability per component, from per-row prefix sums.
    prefix = np.zeros((prob.shape[0], prob.shape[1] + 1), dtype=np.float64)
    np.cumsum(prob, axis=1, out=prefix[:, 1:])
    run_sums = prefix[runs[:, 0], runs[:, 2]] - prefix[runs[:, 0], runs[:, 1]]
    run_pixels = runs[:, 2] - runs[:, 1]
    count = int(components.max()) + 1
    sums = np.bincount(components, weights=run_sums, minlength=count)
    pixels = np.bincount(components, weights=run_pixels, minlength=count)
    scores = sums / np.maximum(pixels, 1)
    order = np.argsort(-pixels, kind="stable")[: spec.get("max_candidates", 1000)]
    min_size, ratio = spec.get("min_size", 3), spec.get("unclip_ratio", 1.6)
    by_component = np.argsort(components, kind="stable")
    starts = np.searchsorted(components[by_component], np.arange(count))
    ends = np.searchsorted(components[by_component], np.arange(count), side="right")
    out = []
    for component in order:
        score = scores[component]
        if score < spec.get("box_thresh", 0.5):
            continue
        part = runs[by_component[starts[component]:ends[component]]]
        ys, x0, x1 = part[:, 0].astype(np.float64), part[:, 1].astype(np.float64), part[:, 2].astype(np.float64)
        corners = np.column_stack([np.concatenate([x0, x1, x0, x1]), np.concatenate([ys, ys, ys + 1, ys + 1])])
        center, width, height, u, v = min_area_rect(corners)
        if min(width, height) < min_size:
            continue
        # Unclip: the network predicts shrunk regions; grow by area * ratio / perimeter on every side.
        distance = width * height * ratio / (2 * (width + height))
        width, height = width + 2 * distance, height + 2 * distance
        if min(width, height) < min_size + 2:
            continue
        geometry = polygon_geometry(rect_corners(center, width, height, u, v), (), transform)
        if geometry:
            out.append(_annotation("polygon", label, geometry, score))
    return out


# --- embeddings ---------------------------------------------------------------------------------------------


def decode_embedding(outputs, transform, spec: DecoderSpec, label_map) -> list[dict]:
    name, raw = _single(outputs)
    vector = _squeeze_batch(raw, 1, name).astype(np.float64)
    if not np.all(np.isfinite(vector)):
        raise DecoderError(f"Output {name!r} holds NaN or infinite values.")
    norm = np.linalg.norm(vector)
    unit = vector / norm if norm > 0 else vector
    return [{"type": "embedding", "vector": [float(v) for v in unit], "source": "model"}]


DECODERS = {
    "softmax": decode_softmax,
    "boxes_scores_labels": decode_boxes_scores_labels,
    "dense": decode_dense,
    "mask": decode_mask,
    "dbnet": decode_dbnet,
    "embedding": decode_embedding,
}


def decode(outputs: dict, transform: Transform, spec: DecoderSpec, label_map: dict[int, str]) -> list[dict]:
    try:
        return DECODERS[spec.kind](outputs, transform, spec, label_map)
    except DecoderError:
        raise
    except (ValueError, IndexError, TypeError) as exc:
        raise DecoderError(f"The {spec.kind} decoder could not read the model's output: {exc}") from None
