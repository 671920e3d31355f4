"""YOLO detection (`yolo`) and segmentation (`yolo_seg`), in a zip laid out as Ultralytics reads it:

    data.yaml                 path, train/val (images/train), names {0: car, ...}
    obj.names                 one class per line (Darknet tools, datumaro's "yolo" importer)
    train.txt                 images/train/<path> per exported image
    labels/train/<path>.txt   one line per object; an empty file for an image without objects

Class ids are 0-based in recipe label order. Coordinates are relative to the image size (0..1, 6 decimals).
- `yolo`: `class cx cy w h`. A box as it is; rotated boxes, ellipses, polygons and masks as their axis-aligned
  bounding box (detection formats hold only boxes).
- `yolo_seg`: `class x1 y1 x2 y2 ...`. Polygons by their exterior (YOLO has no holes: they are dropped and
  counted), rotated boxes and ellipses as polygons (4 and 32 vertices), boxes as 4-corner polygons. Masks are not
  traced into polygons and are skipped (export them with COCO or native).
Points, polylines, keypoints, classifications and items without a known size are skipped and counted.
Label files keep the item's folder (labels/train/cats/a.txt for /cats/a.jpg); images are not included.

Read: a zip with data.yaml or obj.names for the class names and label files under labels/ (any subset folder)
or obj_*_data/ (Darknet). A line of 5 numbers is a box, of 7 or more (odd) a polygon. The label file's path
minus the labels/<subset>/ prefix and extension names the item ("cats/a" matches /cats/a.jpg).
"""

from __future__ import annotations

import math
import posixpath

from ..geometry import bounding_box
from .common import (
    ExportAnnotation,
    ExportItem,
    FormatError,
    ParsedFile,
    ParsedRow,
    Writer,
    item_path,
    outline,
    stem,
    zip_members,
)

BOX_TYPES = ("bbox", "rotated_bbox", "ellipse", "polygon", "mask")
SEG_TYPES = ("bbox", "rotated_bbox", "ellipse", "polygon")
MAX_LABEL_FILE_BYTES = 64 * 1024 * 1024
MAX_NAMES_BYTES = 1024 * 1024


def _rel(value: float, size: int) -> str:
    return f"{min(max(value / size, 0.0), 1.0):.6f}"


def _yaml_string(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML flow scalar


class YoloWriter(Writer):
    name = "yolo"
    segmentation = False

    def __init__(self, archive, **kwargs) -> None:
        super().__init__(archive, **kwargs)
        import tempfile

        self.image_list = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())

    def add(self, item: ExportItem, annotations: list[ExportAnnotation], revisions=None) -> None:
        if item.kind != "image":
            self.counts.skip("item that is not an image")
            return
        path = item_path(item)
        lines = []
        for a in annotations:
            line = self._line(item, a)
            if line is not None:
                lines.append(line)
                self.counts.annotations += 1
        self.archive.writestr(f"labels/train/{stem(path)}.txt", "".join(lines).encode())
        self.image_list.write(f"images/train/{path}\n".encode())
        self.counts.items += 1

    def _line(self, item: ExportItem, a: ExportAnnotation) -> str | None:
        category = self.by_name.get(a.label)
        if category is None:
            self.counts.skip("label not in the recipe")
            return None
        if not item.width or not item.height:
            self.counts.skip("item without a known size")
            return None
        w, h = item.width, item.height
        if self.segmentation:
            if a.type not in SEG_TYPES:
                self.counts.skip(a.type)
                return None
            if a.type == "polygon" and a.geometry.get("holes"):
                self.counts.skip("polygon holes (dropped, exterior kept)")
            ring = outline(a.type, a.geometry, w, h)
            coords = " ".join(f"{_rel(x, w)} {_rel(y, h)}" for x, y in ring)
            return f"{category.id - 1} {coords}\n"
        if a.type not in BOX_TYPES:
            self.counts.skip(a.type)
            return None
        x, y, bw, bh = bounding_box(a.type, a.geometry)
        return f"{category.id - 1} {_rel(x + bw / 2, w)} {_rel(y + bh / 2, h)} {_rel(bw, w)} {_rel(bh, h)}\n"

    def close(self):
        names = "\n".join(f"  {c.id - 1}: {_yaml_string(c.name)}" for c in self.categories)
        self.write_text("data.yaml", f"path: .\ntrain: images/train\nval: images/train\n"
                                     f"nc: {len(self.categories)}\nnames:\n{names}\n")
        self.write_text("obj.names", "".join(f"{c.name}\n" for c in self.categories))
        with self.archive.open("train.txt", "w", force_zip64=True) as out:
            self.image_list.seek(0)
            while piece := self.image_list.read(1024 * 1024):
                out.write(piece)
        self.image_list.close()
        return self.counts


class YoloSegWriter(YoloWriter):
    name = "yolo_seg"
    segmentation = True


# --- Reading --------------------------------------------------------------------------------------


def _is_label_file(path: str) -> bool:
    parts = path.split("/")
    return path.lower().endswith(".txt") and len(parts) > 1 and (
        parts[0].lower() == "labels" or (parts[0].startswith("obj_") and parts[0].endswith("_data")))


def _image_key(path: str) -> str:
    parts = path.split("/")
    parts = parts[2:] if parts[0].lower() == "labels" and len(parts) > 2 else parts[1:]  # labels/<subset>/...
    return stem("/".join(parts))


def _names_from_yaml(data: bytes) -> list[str]:
    import yaml

    try:
        loaded = yaml.safe_load(data.decode("utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise FormatError(f"data.yaml cannot be read: {str(exc)[:200]}") from None
    names = loaded.get("names") if isinstance(loaded, dict) else None
    if isinstance(names, dict):
        if not all(type(k) is int for k in names) or sorted(names) != list(range(len(names))):
            raise FormatError("data.yaml: names are numbered 0, 1, 2, ... without gaps.")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise FormatError("data.yaml needs 'names': a list of class names, or {0: name, ...}.")
    return names


def read_yolo(stream, filename: str) -> ParsedFile:
    parsed = ParsedFile()
    names: list[str] | None = None
    label_files: list[tuple[str, bytes]] = []

    def wanted(path: str) -> bool:
        base = posixpath.basename(path).lower()
        return base in ("data.yaml", "obj.names") or _is_label_file(path)

    yaml_names = obj_names = None
    for path, data in zip_members(stream, wanted=wanted, max_entry_bytes=MAX_LABEL_FILE_BYTES):
        base = posixpath.basename(path).lower()
        if base == "data.yaml":
            if len(data) > MAX_NAMES_BYTES:
                raise FormatError("data.yaml is larger than 1 MB.")
            yaml_names = _names_from_yaml(data)
        elif base == "obj.names":
            try:
                obj_names = [line.strip() for line in data.decode("utf-8-sig").splitlines() if line.strip()]
            except UnicodeDecodeError:
                raise FormatError("obj.names is not UTF-8 text.") from None
        else:
            label_files.append((path, data))
    names = yaml_names if yaml_names is not None else obj_names
    if names is None:
        raise FormatError("The zip archive has no data.yaml or obj.names naming the classes.")
    for path, data in label_files:
        key = _image_key(path)
        parsed.images.add(key)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            parsed.error(path, "The label file is not UTF-8 text.")
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            reference = f"{path}:{number}"
            try:
                parsed.add(ParsedRow(image=key, annotation=_line(line, names), reference=reference, by_stem=True))
            except ValueError as exc:
                parsed.error(reference, str(exc))
    return parsed


def _line(line: str, names: list[str]) -> dict:
    fields = line.split()
    if len(fields) > 200_001:
        raise ValueError("A line has at most 100,000 vertices.")
    if not fields[0].isdigit() or int(fields[0]) >= len(names):
        raise ValueError(f"Class {fields[0][:20]!r} is not one of the {len(names)} classes (0 to {len(names) - 1}).")
    label = names[int(fields[0])]
    try:
        values = [float(v) for v in fields[1:]]
    except ValueError:
        raise ValueError("Coordinates must be numbers.") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError("Coordinates must be finite numbers (no NaN or infinity).")
    if not all(0.0 <= v <= 1.0 for v in values):
        raise ValueError("YOLO coordinates are relative to the image: between 0 and 1.")
    if len(values) == 4:
        cx, cy, w, h = values
        geometry = {"x": cx - w / 2, "y": cy - h / 2, "w": w, "h": h}
        return {"type": "bbox", "label": label, "geometry": geometry, "source": "import", "_relative": True}
    if len(values) >= 6 and len(values) % 2 == 0:
        ring = [values[i:i + 2] for i in range(0, len(values), 2)]
        return {"type": "polygon", "label": label, "geometry": {"exterior": ring, "holes": []}, "source": "import",
                "_relative": True}
    raise ValueError("A line is 'class cx cy w h' (a box) or 'class x1 y1 x2 y2 x3 y3 ...' (a polygon).")


def to_pixels(annotation: dict, width: int, height: int) -> dict:
    """A relative YOLO geometry in the item's pixels."""
    g = annotation["geometry"]
    if annotation["type"] == "bbox":
        x, y = max(g["x"], 0.0) * width, max(g["y"], 0.0) * height
        geometry = {"x": x, "y": y, "w": min(g["w"] * width, width - x), "h": min(g["h"] * height, height - y)}
    else:
        geometry = {"exterior": [[x * width, y * height] for x, y in g["exterior"]], "holes": []}
    return {**annotation, "geometry": geometry}
