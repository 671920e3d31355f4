"""The recipe document: ontology (labels, attributes, skeletons), tools per label, instructions, review settings.

A recipe's draft and every published RecipeVersion hold one such document. `normalise_spec` is the one place
that validates it: every error is keyed by the dotted path of the offending value ("labels.2.hotkey"), so the
API answers 400 naming exactly what is wrong, and what it returns is the canonical form that gets stored.
"""

import json
import math
import re

import nh3
from django.core.exceptions import ValidationError

TOOLS = ("classification", "point", "keypoints", "bbox", "rotated_bbox", "ellipse", "polyline", "polygon", "mask")
ATTRIBUTE_TYPES = ("enum", "multi_enum", "text", "number", "boolean")

MAX_LABELS = 1_000
MAX_ATTRIBUTES = 100
MAX_OPTIONS = 500
MAX_SKELETON_POINTS = 100
MAX_NAME = 200
MAX_TEXT_VALUE = 10_000
MAX_INSTRUCTIONS = 200_000
MAX_SPEC_BYTES = 2 * 1024 * 1024

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_HOTKEY = re.compile(r"^[0-9a-z]$")
# A palette for labels that come without a colour (Tableau 10, distinguishable and colour-blind friendlier).
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")

# Instructions are rich text: a small allow-list of tags; images only from the application itself or https.
_INSTRUCTION_TAGS = {"p", "br", "strong", "em", "b", "i", "u", "s", "ul", "ol", "li", "h2", "h3", "h4", "blockquote",
                     "code", "pre", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "hr"}
_INSTRUCTION_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}}


class SpecErrors:
    """Collects errors by dotted path; raises them together so the user can fix everything in one go."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _name(value, path: str, errors: SpecErrors, what: str = "A name") -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors.add(path, f"{what} is required (a non-empty string).")
        return None
    value = value.strip()
    if len(value) > MAX_NAME or "\x00" in value or any(ch in value for ch in "\r\n\t"):
        errors.add(path, f"{what} is at most {MAX_NAME} characters on one line.")
        return None
    return value


def _bool(value, path: str, errors: SpecErrors, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.add(path, "Must be true or false.")
        return default
    return value


def _number(value, path: str, errors: SpecErrors) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        errors.add(path, "Must be a finite number.")
        return None
    return value


def _attribute(raw, path: str, errors: SpecErrors) -> dict | None:
    if not isinstance(raw, dict):
        errors.add(path, "An attribute is an object with name and type.")
        return None
    unknown = set(raw) - {"name", "type", "required", "options", "min", "max", "default", "description"}
    for key in sorted(unknown):
        errors.add(f"{path}.{key}", "Unknown attribute setting.")
    name = _name(raw.get("name"), f"{path}.name", errors, "An attribute name")
    kind = raw.get("type")
    if kind not in ATTRIBUTE_TYPES:
        errors.add(f"{path}.type", f"Must be one of {', '.join(ATTRIBUTE_TYPES)}.")
        return None
    out = {"name": name, "type": kind, "required": _bool(raw.get("required"), f"{path}.required", errors)}
    if raw.get("description"):
        out["description"] = str(raw["description"])[:1000]
    if kind in ("enum", "multi_enum"):
        options = raw.get("options")
        if not isinstance(options, list) or not options:
            errors.add(f"{path}.options", "An enum needs a non-empty list of options.")
            return None
        if len(options) > MAX_OPTIONS:
            errors.add(f"{path}.options", f"At most {MAX_OPTIONS} options.")
            return None
        clean = [_name(o, f"{path}.options.{i}", errors, "An option") for i, o in enumerate(options)]
        if len(set(clean)) != len(clean):
            errors.add(f"{path}.options", "Options must be unique.")
        out["options"] = clean
    elif "options" in raw:
        errors.add(f"{path}.options", "Only enum and multi_enum attributes have options.")
    if kind == "number":
        low, high = _number(raw.get("min"), f"{path}.min", errors), _number(raw.get("max"), f"{path}.max", errors)
        if low is not None and high is not None and low > high:
            errors.add(f"{path}.max", "max must not be below min.")
        out["min"], out["max"] = low, high
    else:
        for key in ("min", "max"):
            if key in raw:
                errors.add(f"{path}.{key}", "Only number attributes have a range.")
    if "default" in raw and raw["default"] is not None and name:
        problem = attribute_value_error(out, raw["default"])
        if problem:
            errors.add(f"{path}.default", problem)
        else:
            out["default"] = raw["default"]
    return out


def attribute_value_error(attribute: dict, value) -> str | None:
    """Why `value` is not valid for the attribute, or None. Shared by the recipe (defaults) and annotations."""
    kind = attribute["type"]
    if kind == "boolean":
        return None if isinstance(value, bool) else "Must be true or false."
    if kind == "text":
        if not isinstance(value, str):
            return "Must be text."
        return None if len(value) <= MAX_TEXT_VALUE and "\x00" not in value else f"At most {MAX_TEXT_VALUE} characters."
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return "Must be a finite number."
        if attribute.get("min") is not None and value < attribute["min"]:
            return f"Must be at least {attribute['min']}."
        if attribute.get("max") is not None and value > attribute["max"]:
            return f"Must be at most {attribute['max']}."
        return None
    if kind == "enum":
        return None if value in attribute["options"] else f"Must be one of: {', '.join(attribute['options'])}."
    if kind == "multi_enum":
        if not isinstance(value, list) or len(set(map(str, value))) != len(value):
            return "Must be a list of distinct options."
        wrong = [v for v in value if v not in attribute["options"]]
        return f"Not an option: {', '.join(map(str, wrong))}." if wrong else None
    return "Unknown attribute type."


def _attributes(raw, path: str, errors: SpecErrors) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.add(path, "Must be a list of attributes.")
        return []
    if len(raw) > MAX_ATTRIBUTES:
        errors.add(path, f"At most {MAX_ATTRIBUTES} attributes.")
        return []
    out = [a for a in (_attribute(a, f"{path}.{i}", errors) for i, a in enumerate(raw)) if a]
    names = [a["name"] for a in out]
    for duplicate in sorted({n for n in names if n and names.count(n) > 1}):
        errors.add(path, f"Attribute {duplicate!r} is defined twice.")
    return out


def _skeleton(raw, path: str, errors: SpecErrors) -> dict | None:
    if not isinstance(raw, dict):
        errors.add(path, "A skeleton is an object with points and edges.")
        return None
    points, edges = raw.get("points"), raw.get("edges", [])
    if not isinstance(points, list) or not points or len(points) > MAX_SKELETON_POINTS:
        errors.add(f"{path}.points", f"A skeleton has 1 to {MAX_SKELETON_POINTS} named points.")
        return None
    names = [_name(p, f"{path}.points.{i}", errors, "A point name") for i, p in enumerate(points)]
    if len(set(names)) != len(names):
        errors.add(f"{path}.points", "Point names must be unique.")
    if not isinstance(edges, list):
        errors.add(f"{path}.edges", "Edges are a list of [from, to] point indexes.")
        return None
    clean_edges = []
    for i, edge in enumerate(edges):
        ok = (isinstance(edge, list) and len(edge) == 2 and all(type(v) is int and 0 <= v < len(points) for v in edge)
              and edge[0] != edge[1])
        if not ok:
            errors.add(f"{path}.edges.{i}", f"An edge is [from, to]: two different point indexes below {len(points)}.")
        else:
            clean_edges.append(sorted(edge))
    if len({tuple(e) for e in clean_edges}) != len(clean_edges):
        errors.add(f"{path}.edges", "An edge is listed twice.")
    return {"points": names, "edges": clean_edges}


def _label(raw, index: int, errors: SpecErrors) -> dict | None:
    path = f"labels.{index}"
    if not isinstance(raw, dict):
        errors.add(path, "A label is an object with at least a name.")
        return None
    unknown = set(raw) - {"name", "color", "hotkey", "parent", "tools", "attributes", "skeleton", "description"}
    for key in sorted(unknown):
        errors.add(f"{path}.{key}", "Unknown label setting.")
    name = _name(raw.get("name"), f"{path}.name", errors, "A label name")
    color = raw.get("color") or PALETTE[index % len(PALETTE)]
    if not isinstance(color, str) or not _COLOR.match(color):
        errors.add(f"{path}.color", "A colour is #rrggbb.")
    hotkey = raw.get("hotkey")
    if hotkey is not None and (not isinstance(hotkey, str) or not _HOTKEY.match(hotkey)):
        errors.add(f"{path}.hotkey", "A hotkey is one digit or lower-case letter.")
    tools = raw.get("tools", list(TOOLS[1:]))
    if not isinstance(tools, list) or not tools or any(t not in TOOLS for t in tools):
        errors.add(f"{path}.tools", f"Tools are a non-empty list of: {', '.join(TOOLS)}.")
        tools = []
    skeleton = None
    if raw.get("skeleton") is not None:
        skeleton = _skeleton(raw["skeleton"], f"{path}.skeleton", errors)
    if "keypoints" in tools and skeleton is None and raw.get("skeleton") is None:
        if "tools" in raw:
            errors.add(f"{path}.skeleton", "The keypoints tool needs a skeleton (named points and edges).")
        tools = [t for t in tools if t != "keypoints"]
    out = {"name": name, "color": (color or "").lower(), "hotkey": hotkey, "parent": raw.get("parent"),
           "tools": list(dict.fromkeys(tools)), "attributes": _attributes(raw.get("attributes"), f"{path}.attributes",
                                                                          errors)}
    if skeleton:
        out["skeleton"] = skeleton
    if raw.get("description"):
        out["description"] = str(raw["description"])[:2000]
    return out


def clean_instructions(html) -> str:
    if not html:
        return ""
    if not isinstance(html, str):
        raise ValidationError({"instructions": "Instructions are HTML text."})
    if len(html) > MAX_INSTRUCTIONS:
        raise ValidationError({"instructions": f"Instructions are at most {MAX_INSTRUCTIONS // 1000} kB."})
    return nh3.clean(
        html, tags=_INSTRUCTION_TAGS, attributes=_INSTRUCTION_ATTRIBUTES, url_schemes={"https", "http", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def _review(raw, errors: SpecErrors) -> dict:
    raw = raw or {}
    if not isinstance(raw, dict):
        errors.add("review", "Review settings are an object.")
        return {"required": False, "sample_ratio": 0.0, "reject_reasons": []}
    ratio = _number(raw.get("sample_ratio", 0), "review.sample_ratio", errors) or 0.0
    if not 0 <= ratio <= 1:
        errors.add("review.sample_ratio", "A ratio is between 0 and 1.")
    reasons = raw.get("reject_reasons", [])
    if not isinstance(reasons, list) or len(reasons) > 50:
        errors.add("review.reject_reasons", "At most 50 reasons.")
        reasons = []
    return {"required": _bool(raw.get("required"), "review.required", errors), "sample_ratio": ratio,
            "reject_reasons": [r for r in (_name(r, f"review.reject_reasons.{i}", errors, "A reason")
                                           for i, r in enumerate(reasons)) if r]}


def normalise_spec(raw) -> dict:
    """Validates a recipe document and returns its canonical form; raises ValidationError keyed by path."""
    if not isinstance(raw, dict):
        raise ValidationError({"spec": "A recipe is a JSON object with labels."})
    try:
        size = len(json.dumps(raw, allow_nan=False))
    except (ValueError, TypeError):
        raise ValidationError({"spec": "A recipe may not contain NaN, infinite numbers or non-JSON values."}) from None
    if size > MAX_SPEC_BYTES:
        raise ValidationError({"spec": f"A recipe is at most {MAX_SPEC_BYTES // 1024 // 1024} MB."})
    errors = SpecErrors()
    for key in sorted(set(raw) - {"labels", "attributes", "instructions", "review"}):
        errors.add(key, "Unknown recipe section.")
    labels_raw = raw.get("labels", [])
    if not isinstance(labels_raw, list):
        errors.add("labels", "Labels are a list.")
        labels_raw = []
    if len(labels_raw) > MAX_LABELS:
        raise ValidationError({"labels": f"At most {MAX_LABELS} labels."})
    labels = [lab for lab in (_label(raw_label, i, errors) for i, raw_label in enumerate(labels_raw)) if lab]
    by_name: dict[str, int] = {}
    hotkeys: dict[str, str] = {}
    for i, label in enumerate(labels):
        if label["name"] in by_name:
            errors.add(f"labels.{i}.name", f"Label {label['name']!r} is defined twice.")
        by_name.setdefault(label["name"], i)
        if label["hotkey"]:
            if label["hotkey"] in hotkeys:
                errors.add(f"labels.{i}.hotkey", f"Hotkey {label['hotkey']!r} is already {hotkeys[label['hotkey']]!r}.")
            hotkeys.setdefault(label["hotkey"], label["name"])
    for i, label in enumerate(labels):
        parent = label["parent"]
        if parent is None:
            continue
        if parent not in by_name or parent == label["name"]:
            errors.add(f"labels.{i}.parent", "The parent must be another label of this recipe.")
            continue
        seen, cursor = {label["name"]}, parent
        while cursor is not None:
            if cursor in seen:
                errors.add(f"labels.{i}.parent", "Parents may not form a cycle.")
                break
            seen.add(cursor)
            cursor = labels[by_name[cursor]]["parent"] if cursor in by_name else None
    spec = {
        "labels": labels,
        "attributes": _attributes(raw.get("attributes"), "attributes", errors),
        "review": _review(raw.get("review"), errors),
    }
    try:
        spec["instructions"] = clean_instructions(raw.get("instructions"))
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            for message in messages:
                errors.add(key, message)
    errors.raise_if_any()
    return spec


def label_map(spec: dict) -> dict[str, dict]:
    return {label["name"]: label for label in spec["labels"]}
