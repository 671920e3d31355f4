"""Geometry per annotation type: shapes, finite numbers, item bounds, vertex caps and valid polygons.

All coordinates are in the item's pixels, origin top-left, x to the right, y down; angles in degrees,
clockwise. `normalise_geometry(type, geometry, width, height)` returns the canonical form to store or raises
GeometryError(path, message) naming the offending part ("exterior.3", "rle.counts").

    point         {"x", "y"}
    bbox          {"x", "y", "w", "h"}                       top-left corner and size
    rotated_bbox  {"cx", "cy", "w", "h", "angle"}
    ellipse       {"cx", "cy", "rx", "ry", "angle"}
    polyline      {"points": [[x, y], ...]}
    polygon       {"exterior": [[x, y], ...], "holes": [[[x, y], ...], ...]}
    keypoints     {"points": [[x, y, v], ...]}                one per skeleton point; v 0 absent, 1 hidden, 2 visible
    mask          {"rle": {"size": [height, width], "counts": [n0, n1, ...]}}   COCO's uncompressed RLE, column-major
    classification  no geometry
"""

import math

import shapely
from shapely.geometry import Polygon
from shapely.validation import explain_validity

MAX_RING_VERTICES = 10_000
MAX_TOTAL_VERTICES = 50_000
MAX_HOLES = 1_000
MAX_RLE_COUNTS = 4_000_000
MAX_ABS_ANGLE = 360.0


class GeometryError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


def _num(value, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GeometryError(path, "Must be a number.")
    if not math.isfinite(value):
        raise GeometryError(path, "Must be a finite number (no NaN or infinity).")
    return float(value)


def _fields(geometry, names: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, float]:
    if not isinstance(geometry, dict):
        raise GeometryError("geometry", f"Must be an object with {', '.join(names)}.")
    unknown = set(geometry) - set(names) - set(optional)
    if unknown:
        raise GeometryError(sorted(unknown)[0], "Unknown geometry field.")
    out = {}
    for name in names:
        if name not in geometry:
            raise GeometryError(name, "This field is required.")
        out[name] = _num(geometry[name], name)
    for name in optional:
        out[name] = _num(geometry.get(name, 0), name)
    return out


class _Bounds:
    def __init__(self, width, height):
        self.width, self.height = width, height

    def check(self, x: float, y: float, path: str) -> None:
        if x < 0 or y < 0:
            raise GeometryError(path, f"({x:g}, {y:g}) is outside the item: coordinates start at 0.")
        if self.width is not None and x > self.width:
            raise GeometryError(path, f"x {x:g} is outside the item (width {self.width}).")
        if self.height is not None and y > self.height:
            raise GeometryError(path, f"y {y:g} is outside the item (height {self.height}).")


def _point_pair(value, path: str, bounds: _Bounds) -> list[float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise GeometryError(path, "A vertex is [x, y].")
    x, y = _num(value[0], f"{path}.0"), _num(value[1], f"{path}.1")
    bounds.check(x, y, path)
    return [x, y]


def _ring(value, path: str, bounds: _Bounds, minimum: int) -> list[list[float]]:
    if not isinstance(value, list):
        raise GeometryError(path, "Must be a list of [x, y] vertices.")
    if len(value) > MAX_RING_VERTICES:
        raise GeometryError(path, f"At most {MAX_RING_VERTICES} vertices (got {len(value)}).")
    points = [_point_pair(v, f"{path}.{i}", bounds) for i, v in enumerate(value)]
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1] if minimum > 2 else points  # a closed ring need not repeat its first vertex
    if len(points) < minimum:
        raise GeometryError(path, f"Needs at least {minimum} distinct vertices.")
    return points


def _rotated_corners(cx, cy, half_w, half_h, angle):
    rad = math.radians(angle)
    cos, sin = math.cos(rad), math.sin(rad)
    return [(cx + dx * cos - dy * sin, cy + dx * sin + dy * cos)
            for dx, dy in ((-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h))]


def _check_angle(angle: float) -> None:
    if abs(angle) > MAX_ABS_ANGLE:
        raise GeometryError("angle", f"An angle is between -{MAX_ABS_ANGLE:g} and {MAX_ABS_ANGLE:g} degrees.")


def _point(g, bounds, **_):
    out = _fields(g, ("x", "y"))
    bounds.check(out["x"], out["y"], "geometry")
    return out


def _bbox(g, bounds, **_):
    out = _fields(g, ("x", "y", "w", "h"))
    if out["w"] <= 0 or out["h"] <= 0:
        raise GeometryError("w" if out["w"] <= 0 else "h", "A box has a positive width and height.")
    bounds.check(out["x"], out["y"], "geometry")
    bounds.check(out["x"] + out["w"], out["y"] + out["h"], "geometry")
    return out


def _rotated_bbox(g, bounds, **_):
    out = _fields(g, ("cx", "cy", "w", "h"), optional=("angle",))
    if out["w"] <= 0 or out["h"] <= 0:
        raise GeometryError("w" if out["w"] <= 0 else "h", "A box has a positive width and height.")
    _check_angle(out["angle"])
    for corner in _rotated_corners(out["cx"], out["cy"], out["w"] / 2, out["h"] / 2, out["angle"]):
        bounds.check(*corner, "geometry")
    return out


def _ellipse(g, bounds, **_):
    out = _fields(g, ("cx", "cy", "rx", "ry"), optional=("angle",))
    if out["rx"] <= 0 or out["ry"] <= 0:
        raise GeometryError("rx" if out["rx"] <= 0 else "ry", "An ellipse has positive radii.")
    _check_angle(out["angle"])
    rad = math.radians(out["angle"])
    half_x = math.hypot(out["rx"] * math.cos(rad), out["ry"] * math.sin(rad))
    half_y = math.hypot(out["rx"] * math.sin(rad), out["ry"] * math.cos(rad))
    bounds.check(out["cx"] - half_x, out["cy"] - half_y, "geometry")
    bounds.check(out["cx"] + half_x, out["cy"] + half_y, "geometry")
    return out


def _polyline(g, bounds, **_):
    if not isinstance(g, dict) or set(g) != {"points"}:
        raise GeometryError("geometry", "A polyline is {\"points\": [[x, y], ...]}.")
    return {"points": _ring(g["points"], "points", bounds, minimum=2)}


def _polygon(g, bounds, **_):
    if not isinstance(g, dict) or "exterior" not in g or set(g) - {"exterior", "holes"}:
        raise GeometryError("geometry", "A polygon is {\"exterior\": [[x, y], ...], \"holes\": [...]}.")
    holes_raw = g.get("holes") or []
    if not isinstance(holes_raw, list):
        raise GeometryError("holes", "Holes are a list of rings.")
    if len(holes_raw) > MAX_HOLES:
        raise GeometryError("holes", f"At most {MAX_HOLES} holes.")
    exterior = _ring(g["exterior"], "exterior", bounds, minimum=3)
    holes = [_ring(h, f"holes.{i}", bounds, minimum=3) for i, h in enumerate(holes_raw)]
    total = len(exterior) + sum(map(len, holes))
    if total > MAX_TOTAL_VERTICES:
        raise GeometryError("holes", f"At most {MAX_TOTAL_VERTICES} vertices in all (got {total}).")
    shape = Polygon(exterior, holes)
    if not shape.is_valid:
        reason = explain_validity(shape)
        path = "exterior"
        for i, hole in enumerate(holes):
            if not Polygon(hole).is_valid:
                path = f"holes.{i}"
                break
        raise GeometryError(path, f"Not a valid polygon: {reason}.")
    if shape.area <= 0:
        raise GeometryError("exterior", "A polygon has a positive area.")
    return {"exterior": exterior, "holes": holes}


def _keypoints(g, bounds, *, skeleton=None, **_):
    if skeleton is None:
        raise GeometryError("label", "This label has no keypoint skeleton.")
    if not isinstance(g, dict) or set(g) != {"points"} or not isinstance(g["points"], list):
        raise GeometryError("geometry", "Keypoints are {\"points\": [[x, y, v], ...]}, one per skeleton point.")
    names = skeleton["points"]
    if len(g["points"]) != len(names):
        raise GeometryError("points", f"The skeleton has {len(names)} points ({', '.join(names)}); "
                                      f"got {len(g['points'])}.")
    out = []
    for i, value in enumerate(g["points"]):
        path = f"points.{i}"
        if not isinstance(value, list) or len(value) != 3 or value[2] not in (0, 1, 2) or isinstance(value[2], bool):
            raise GeometryError(path, f"Point {names[i]!r} is [x, y, v] with v 0 (absent), 1 (hidden) or 2 (visible).")
        if value[2] == 0:
            out.append([0.0, 0.0, 0])
            continue
        x, y = _num(value[0], f"{path}.0"), _num(value[1], f"{path}.1")
        bounds.check(x, y, path)
        out.append([x, y, value[2]])
    if all(p[2] == 0 for p in out):
        raise GeometryError("points", "At least one point is placed.")
    return {"points": out}


def _mask(g, bounds, **_):
    if not isinstance(g, dict) or set(g) != {"rle"} or not isinstance(g["rle"], dict):
        raise GeometryError("geometry", "A mask is {\"rle\": {\"size\": [height, width], \"counts\": [...]}}.")
    rle = g["rle"]
    size, counts = rle.get("size"), rle.get("counts")
    if (not isinstance(size, list) or len(size) != 2
            or not all(type(v) is int and 0 < v <= 100_000 for v in size)):
        raise GeometryError("rle.size", "The size is [height, width] in pixels.")
    if bounds.height is not None and bounds.width is not None and size != [bounds.height, bounds.width]:
        raise GeometryError("rle.size", f"The mask is {size[0]}x{size[1]} but the item is "
                                        f"{bounds.height}x{bounds.width} (height x width).")
    if not isinstance(counts, list) or not counts:
        raise GeometryError("rle.counts", "Counts are a non-empty list of run lengths.")
    if len(counts) > MAX_RLE_COUNTS:
        raise GeometryError("rle.counts", f"At most {MAX_RLE_COUNTS} runs.")
    if not all(type(v) is int and v >= 0 for v in counts):
        raise GeometryError("rle.counts", "Run lengths are whole numbers, 0 or more.")
    if sum(counts) != size[0] * size[1]:
        raise GeometryError("rle.counts", f"Run lengths add up to {sum(counts)}, not height x width = "
                                          f"{size[0] * size[1]}.")
    if not any(counts[1::2]):
        raise GeometryError("rle.counts", "The mask is empty.")
    return {"rle": {"size": size, "counts": counts}}


def _classification(g, bounds, **_):
    if g not in (None, {}):
        raise GeometryError("geometry", "A classification has no geometry.")
    return None


VALIDATORS = {
    "classification": _classification, "point": _point, "keypoints": _keypoints, "bbox": _bbox,
    "rotated_bbox": _rotated_bbox, "ellipse": _ellipse, "polyline": _polyline, "polygon": _polygon,
    "mask": _mask,
}


def normalise_geometry(kind: str, geometry, *, width: int | None, height: int | None, skeleton: dict | None = None):
    try:
        validator = VALIDATORS[kind]
    except KeyError:
        raise GeometryError("type", f"Unknown annotation type {kind!r}.") from None
    return validator(geometry, _Bounds(width, height), skeleton=skeleton)


def bounding_box(kind: str, geometry) -> tuple[float, float, float, float] | None:
    """(x, y, w, h) around a stored geometry, for exports and matching; None for classifications."""
    if kind == "bbox":
        return geometry["x"], geometry["y"], geometry["w"], geometry["h"]
    if kind == "point":
        return geometry["x"], geometry["y"], 0.0, 0.0
    if kind in ("rotated_bbox", "ellipse"):
        if kind == "rotated_bbox":
            xs, ys = zip(*_rotated_corners(geometry["cx"], geometry["cy"], geometry["w"] / 2, geometry["h"] / 2,
                                           geometry["angle"]), strict=True)
        else:
            rad = math.radians(geometry["angle"])
            hx = math.hypot(geometry["rx"] * math.cos(rad), geometry["ry"] * math.sin(rad))
            hy = math.hypot(geometry["rx"] * math.sin(rad), geometry["ry"] * math.cos(rad))
            xs, ys = (geometry["cx"] - hx, geometry["cx"] + hx), (geometry["cy"] - hy, geometry["cy"] + hy)
        return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    if kind in ("polyline", "polygon", "keypoints"):
        if kind == "keypoints":
            points = [p[:2] for p in geometry["points"] if p[2] > 0]
        else:
            points = geometry["points"] if kind == "polyline" else geometry["exterior"]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    if kind == "mask":
        return mask_bbox(geometry["rle"])
    return None


def mask_bbox(rle: dict) -> tuple[float, float, float, float]:
    """Bounding box of a column-major RLE without decoding it into pixels."""
    height = rle["size"][0]
    position, cols, rows = 0, [], []
    for index, run in enumerate(rle["counts"]):
        if index % 2 == 1 and run:
            first, last = position, position + run - 1
            cols += [first // height, last // height]
            if last // height > first // height:
                rows += [0, height - 1]
            else:
                rows += [first % height, last % height]
        position += run
    return float(min(cols)), float(min(rows)), float(max(cols) - min(cols) + 1), float(max(rows) - min(rows) + 1)


def polygon_area(geometry) -> float:
    return float(shapely.area(Polygon(geometry["exterior"], geometry["holes"])))
