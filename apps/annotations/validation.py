"""Checks one annotation against its item and its pinned recipe version; the one place for these rules.

`AnnotationInputError` carries field errors keyed by field path ("geometry.exterior.3", "attributes.colour");
bulk callers prefix them with the annotation's position or id, so an error names the annotation and the field.
"""

import math

from django.core.exceptions import ValidationError

from apps.recipes.spec import attribute_value_error, label_map

from .geometry import GeometryError, normalise_geometry
from .models import AnnotationType, Source

MAX_Z = 1_000_000
MAX_FRAME = 10_000_000
FIELDS = {"type", "label", "attributes", "geometry", "z_order", "frame", "source", "confidence", "review_state"}


class AnnotationInputError(ValidationError):
    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.field_errors = errors

    def prefixed(self, prefix: str) -> dict[str, str]:
        return {f"{prefix}.{path}": message for path, message in self.field_errors.items()}


class SpecIndex:
    """A recipe version's spec, indexed once for validating many annotations."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.labels = label_map(spec)
        self.item_attributes = {a["name"]: a for a in spec.get("attributes", [])}

    def attributes_for(self, label: dict, kind: str) -> dict[str, dict]:
        attributes = {a["name"]: a for a in label.get("attributes", [])}
        if kind == AnnotationType.CLASSIFICATION:
            attributes = {**self.item_attributes, **attributes}
        return attributes


def _int(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise AnnotationInputError({field: f"Must be a whole number from {low} to {high}."})
    return value


def validate_annotation(raw: dict, *, item, spec: SpecIndex, partial_of: dict | None = None) -> dict:
    """Returns the clean fields to store. `partial_of` is the current state for a PATCH (only given keys change)."""
    if not isinstance(raw, dict):
        raise AnnotationInputError({"non_field_errors": "An annotation is a JSON object."})
    unknown = set(raw) - FIELDS - {"id", "version", "recipe_version"}
    if unknown:
        raise AnnotationInputError({key: "Unknown field." for key in sorted(unknown)})
    data = {**(partial_of or {}), **{k: v for k, v in raw.items() if k in FIELDS}}
    kind = data.get("type")
    if kind not in AnnotationType.values:
        raise AnnotationInputError({"type": f"Must be one of {', '.join(AnnotationType.values)}."})
    label_name = data.get("label")
    label = spec.labels.get(label_name) if isinstance(label_name, str) else None
    if label is None:
        raise AnnotationInputError({"label": f"{label_name!r} is not a label of the pinned recipe version."})
    if kind not in label["tools"]:
        raise AnnotationInputError({"type": f"Label {label_name!r} may be drawn with {', '.join(label['tools'])}; "
                                            f"not {kind}."})
    source = data.get("source", Source.HUMAN)
    if source not in Source.values:
        raise AnnotationInputError({"source": f"Must be one of {', '.join(Source.values)}."})
    review_state = data.get("review_state") or ""
    if review_state not in ("", "proposed"):
        raise AnnotationInputError({"review_state": "Must be empty or 'proposed'."})
    confidence = data.get("confidence")
    if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))
                                   or not math.isfinite(confidence) or not 0 <= confidence <= 1):
        raise AnnotationInputError({"confidence": "A confidence is a number from 0 to 1."})
    try:
        geometry = normalise_geometry(kind, data.get("geometry"), width=item.width, height=item.height,
                                      skeleton=label.get("skeleton"))
    except GeometryError as exc:
        path = exc.path if exc.path in ("type", "label", "geometry") else f"geometry.{exc.path}"
        raise AnnotationInputError({path: exc.message}) from None
    attributes = _attributes(data.get("attributes") or {}, spec.attributes_for(label, kind),
                             strict_required=source == Source.HUMAN and review_state != "proposed")
    return {
        "type": kind, "label": label_name, "attributes": attributes, "geometry": geometry,
        "z_order": _int(data.get("z_order", 0), "z_order", -MAX_Z, MAX_Z),
        "frame": _int(data.get("frame", 0), "frame", 0, MAX_FRAME),
        "source": source, "review_state": review_state,
        "confidence": float(confidence) if confidence is not None else None,
    }


def _attributes(values, allowed: dict[str, dict], *, strict_required: bool) -> dict:
    if not isinstance(values, dict):
        raise AnnotationInputError({"attributes": "Attributes are an object of name: value."})
    errors = {}
    for name in values:
        if name not in allowed:
            errors[f"attributes.{name}"] = "Not an attribute of this label in the pinned recipe version."
    out = {}
    for name, attribute in allowed.items():
        if name in values and values[name] is not None:
            problem = attribute_value_error(attribute, values[name])
            if problem:
                errors[f"attributes.{name}"] = problem
            else:
                out[name] = values[name]
        elif "default" in attribute:
            out[name] = attribute["default"]
        elif attribute["required"] and strict_required:
            errors[f"attributes.{name}"] = "This attribute is required."
    if errors:
        raise AnnotationInputError(errors)
    return out
