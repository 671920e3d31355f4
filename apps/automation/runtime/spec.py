"""Input specs and decoder specs: plain data, checked here, so a registry and a GPU box agree on them.

A spec problem raises SpecError(path, message) with a field path ("input_spec.mean", "decoder.iou_threshold").

input_spec
    size          [height, width] the model takes (letterbox, stretch); null when the model takes any size (limit)
    resize        letterbox (keep aspect, pad) | stretch | limit (scale a side to limit_side, round to multiple_of)
    layout        NCHW | NHWC
    color         RGB | BGR | L
    mean, std     per channel, applied after scale: (pixel * scale - mean) / std
    scale         pixel multiplier, usually 1/255
    pad_value     0..255 grey used by letterbox
    limit_side, limit_type (min | max), multiple_of, max_side   for resize=limit

decoder (kind and its parameters)
    softmax              classification: top_k, threshold, apply_softmax
    boxes_scores_labels  detection from three tensors: outputs {boxes, scores, labels}, box_format, normalized,
                         score_threshold, iou_threshold, max_detections
    dense                detection from one [N, 4+C] (or [1, 4+C, N]) tensor: box_format, objectness, transposed,
                         normalized, score_threshold, iou_threshold, max_detections
    dbnet                text detection probability map -> polygons: thresh, box_thresh, unclip_ratio, min_size,
                         max_candidates
    mask                 segmentation [1, C, H, W] scores or [1, H, W] classes -> polygon | rle per class
    embedding            [1, D] -> L2-normalised vector
"""

import math
from dataclasses import dataclass, field

LAYOUTS = ("NCHW", "NHWC")
COLORS = ("RGB", "BGR", "L")
RESIZES = ("letterbox", "stretch", "limit")
BOX_FORMATS = ("xyxy", "xywh", "cxcywh")

# Which decoders a task type may use, and what annotation type each produces.
TASK_DECODERS = {
    "classification": ("softmax",),
    "detection": ("boxes_scores_labels", "dense", "dbnet"),
    "segmentation": ("mask",),
    "embedding": ("embedding",),
}
MAX_SIDE = 8192


class SpecError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _number(value, path, *, low=-math.inf, high=math.inf, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(path, "Must be a finite number.")
    if integer and int(value) != value:
        raise SpecError(path, "Must be a whole number.")
    if not low <= value <= high:
        raise SpecError(path, f"Must be from {low:g} to {high:g}.")
    return int(value) if integer else float(value)


def _choice(value, path, options):
    if value not in options:
        raise SpecError(path, f"Must be one of {', '.join(options)}.")
    return value


def _triple(value, path, channels: int, *, positive=False):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value] * channels
    if not isinstance(value, (list, tuple)) or len(value) != channels:
        raise SpecError(path, f"Must be a list of {channels} numbers (one per channel).")
    out = tuple(_number(v, f"{path}.{i}") for i, v in enumerate(value))
    if positive and any(v <= 0 for v in out):
        raise SpecError(path, "Every value must be above 0.")
    return out


@dataclass(frozen=True)
class InputSpec:
    size: tuple[int, int] | None = None
    resize: str = "letterbox"
    layout: str = "NCHW"
    color: str = "RGB"
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    scale: float = 1 / 255
    pad_value: int = 114
    limit_side: int = 736
    limit_type: str = "min"
    multiple_of: int = 32
    max_side: int = 2048

    @property
    def channels(self) -> int:
        return 1 if self.color == "L" else 3

    def as_dict(self) -> dict:
        return {"size": list(self.size) if self.size else None, "resize": self.resize, "layout": self.layout,
                "color": self.color, "mean": list(self.mean), "std": list(self.std), "scale": self.scale,
                "pad_value": self.pad_value, "limit_side": self.limit_side, "limit_type": self.limit_type,
                "multiple_of": self.multiple_of, "max_side": self.max_side}


INPUT_FIELDS = set(InputSpec().as_dict())


def parse_input_spec(raw, prefix: str = "input_spec") -> InputSpec:
    if not isinstance(raw, dict):
        raise SpecError(prefix, "Must be an object.")
    unknown = sorted(set(raw) - INPUT_FIELDS)
    if unknown:
        raise SpecError(f"{prefix}.{unknown[0]}", "Unknown field.")
    color = _choice(raw.get("color", "RGB"), f"{prefix}.color", COLORS)
    channels = 1 if color == "L" else 3
    resize = _choice(raw.get("resize", "letterbox"), f"{prefix}.resize", RESIZES)
    size = raw.get("size")
    if size is not None:
        if not isinstance(size, (list, tuple)) or len(size) != 2:
            raise SpecError(f"{prefix}.size", "Must be [height, width].")
        size = tuple(_number(v, f"{prefix}.size.{i}", low=1, high=MAX_SIDE, integer=True) for i, v in enumerate(size))
    if resize in ("letterbox", "stretch") and size is None:
        raise SpecError(f"{prefix}.size", f"resize={resize} needs the model's [height, width].")
    defaults = InputSpec()
    return InputSpec(
        size=size, resize=resize, color=color,
        layout=_choice(raw.get("layout", "NCHW"), f"{prefix}.layout", LAYOUTS),
        mean=_triple(raw.get("mean", 0.0), f"{prefix}.mean", channels),
        std=_triple(raw.get("std", 1.0), f"{prefix}.std", channels, positive=True),
        scale=_number(raw.get("scale", defaults.scale), f"{prefix}.scale", low=1e-9, high=1e6),
        pad_value=_number(raw.get("pad_value", 114), f"{prefix}.pad_value", low=0, high=255, integer=True),
        limit_side=_number(raw.get("limit_side", 736), f"{prefix}.limit_side", low=8, high=MAX_SIDE, integer=True),
        limit_type=_choice(raw.get("limit_type", "min"), f"{prefix}.limit_type", ("min", "max")),
        multiple_of=_number(raw.get("multiple_of", 32), f"{prefix}.multiple_of", low=1, high=256, integer=True),
        max_side=_number(raw.get("max_side", 2048), f"{prefix}.max_side", low=8, high=MAX_SIDE, integer=True),
    )


@dataclass(frozen=True)
class DecoderSpec:
    kind: str
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, **self.params}

    def get(self, name, default=None):
        return self.params.get(name, default)


_COMMON_DETECTION = {
    "score_threshold": (0.25, dict(low=0, high=1)),
    "iou_threshold": (0.45, dict(low=0, high=1)),
    "max_detections": (300, dict(low=1, high=10_000, integer=True)),
}
_NUMERIC = {
    "softmax": {"top_k": (1, dict(low=1, high=1000, integer=True)), "threshold": (0.0, dict(low=0, high=1))},
    "boxes_scores_labels": dict(_COMMON_DETECTION),
    "dense": dict(_COMMON_DETECTION),
    "dbnet": {"thresh": (0.3, dict(low=0, high=1)), "box_thresh": (0.5, dict(low=0, high=1)),
              "unclip_ratio": (1.6, dict(low=0, high=10)), "min_size": (3, dict(low=0, high=1000)),
              "max_candidates": (1000, dict(low=1, high=100_000, integer=True))},
    "mask": {"background": (0, dict(low=-1, high=100_000, integer=True)),
             "min_area": (4, dict(low=0, high=1e9)), "simplify": (1.0, dict(low=0, high=100))},
    "embedding": {},
}
_FLAGS = {
    "softmax": {"apply_softmax": True},
    "boxes_scores_labels": {"normalized": False},
    "dense": {"normalized": False, "objectness": False},
    "dbnet": {},
    "mask": {},
    "embedding": {},
}
_CHOICES = {
    "boxes_scores_labels": {"box_format": ("xyxy", BOX_FORMATS)},
    "dense": {"box_format": ("cxcywh", BOX_FORMATS), "transposed": ("auto", ("auto", "yes", "no"))},
    "mask": {"output": ("polygon", ("polygon", "rle"))},
}
ALL_DECODERS = tuple(_NUMERIC)


def parse_decoder(raw, *, task_type: str | None = None, prefix: str = "decoder") -> DecoderSpec:
    if not isinstance(raw, dict):
        raise SpecError(prefix, "Must be an object with a kind and its parameters.")
    kind = _choice(raw.get("kind"), f"{prefix}.kind", ALL_DECODERS)
    if task_type is not None and kind not in TASK_DECODERS.get(task_type, ()):
        raise SpecError(f"{prefix}.kind", f"A {task_type} model decodes with "
                                          f"{', '.join(TASK_DECODERS.get(task_type, ()))}; not {kind}.")
    numeric, flags, choices = _NUMERIC[kind], _FLAGS[kind], _CHOICES.get(kind, {})
    allowed = {"kind", *numeric, *flags, *choices} | ({"outputs"} if kind == "boxes_scores_labels" else set())
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SpecError(f"{prefix}.{unknown[0]}", f"Not a parameter of the {kind} decoder.")
    params = {}
    for name, (default, bounds) in numeric.items():
        params[name] = _number(raw.get(name, default), f"{prefix}.{name}", **bounds)
    for name, default in flags.items():
        value = raw.get(name, default)
        if not isinstance(value, bool):
            raise SpecError(f"{prefix}.{name}", "Must be true or false.")
        params[name] = value
    for name, (default, options) in choices.items():
        params[name] = _choice(raw.get(name, default), f"{prefix}.{name}", options)
    if kind == "boxes_scores_labels":
        outputs = raw.get("outputs") or {}
        if not isinstance(outputs, dict) or set(outputs) - {"boxes", "scores", "labels"} or not all(
                isinstance(v, str) and 0 < len(v) <= 200 for v in outputs.values()):
            raise SpecError(f"{prefix}.outputs", "Name the output tensors as {\"boxes\": ..., \"scores\": ..., "
                                                 "\"labels\": ...} (each optional: found by name otherwise).")
        params["outputs"] = dict(outputs)
    return DecoderSpec(kind=kind, params=params)


ANNOTATION_TYPES = {
    "softmax": "classification", "boxes_scores_labels": "bbox", "dense": "bbox", "dbnet": "polygon",
    "embedding": None,
}


def annotation_type(decoder: DecoderSpec) -> str | None:
    """The annotation type a decoder writes (None: it writes no annotation)."""
    if decoder.kind == "mask":
        return "mask" if decoder.get("output") == "rle" else "polygon"
    return ANNOTATION_TYPES[decoder.kind]


def parse_label_map(raw, prefix: str = "label_map") -> dict[int, str]:
    """{"0": "car", "2": "truck"} or ["car", "truck"] -> {0: "car", 2: "truck"}. Unmapped indexes are ignored."""
    if isinstance(raw, list):
        raw = {str(i): v for i, v in enumerate(raw) if v is not None}
    if not isinstance(raw, dict):
        raise SpecError(prefix, "Must map class indexes to label names: {\"0\": \"car\"} or [\"car\", ...].")
    if len(raw) > 100_000:
        raise SpecError(prefix, "At most 100000 classes.")
    out = {}
    for key, value in raw.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise SpecError(f"{prefix}.{key}", "Class indexes are whole numbers from 0.") from None
        if index < 0 or str(index) != str(key).strip():
            raise SpecError(f"{prefix}.{key}", "Class indexes are whole numbers from 0.")
        if not isinstance(value, str) or not value.strip():
            raise SpecError(f"{prefix}.{key}", "A label name is a non-empty string.")
        out[index] = value
    return out
