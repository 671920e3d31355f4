"""What every format shares: the rows writers receive, label categories, geometry conversions, RLE helpers,
safe JSON and the shape of what readers return. No database access here: writers and readers are pure, so
the export job, the import job, the tests and the benchmark drive them the same way.
"""

from __future__ import annotations

import json
import math
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..geometry import MAX_RLE_COUNTS, _rotated_corners

ELLIPSE_VERTICES = 32
MAX_IMPORT_ANNOTATIONS = 1_000_000
MAX_JSON_BYTES = 512 * 1024 * 1024


class ExportItem(NamedTuple):
    id: int
    name: str
    folder: str
    width: int | None
    height: int | None
    kind: str = "image"
    metadata: dict | None = None


class ExportAnnotation(NamedTuple):
    id: int
    type: str
    label: str
    attributes: dict | str  # JSON text for writers with raw_attributes
    geometry: Any
    z_order: int = 0
    frame: int = 0
    source: str = "human"
    confidence: float | None = None
    review_state: str = ""
    version: int = 1
    recipe_version_id: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class Category:
    """One label as the formats number it: `id` is 1-based in label order (COCO ids; YOLO uses id - 1)."""

    id: int
    name: str
    color: str = ""
    skeleton: dict | None = None  # {"points": [names], "edges": [[i, j], ...]} (0-based)


def categories_from_specs(specs: Iterable[dict]) -> list[Category]:
    """Labels of the given recipe specs, first spec first (the dataset's current version), each name once."""
    out: dict[str, Category] = {}
    for spec in specs:
        for label in spec.get("labels", []):
            if label["name"] not in out:
                out[label["name"]] = Category(len(out) + 1, label["name"], label.get("color", ""),
                                              label.get("skeleton"))
    return list(out.values())


def item_path(item: ExportItem) -> str:
    """The item's path relative to the dataset root ("cats/a.jpg", or "a.jpg" at the root): the file name
    every format writes and every reader matches on."""
    folder = (item.folder or "/").strip("/")
    return f"{folder}/{item.name}" if folder else item.name


def stem(path: str) -> str:
    root, _ext = posixpath.splitext(path)
    return root


@dataclass
class ExportCounts:
    items: int = 0
    annotations: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


# --- Geometry -------------------------------------------------------------------------------------


def _clipped(points, width: int | None, height: int | None) -> list[list[float]]:
    """Vertices rounded to 3 decimals and kept inside the item (float error can put a derived vertex 1e-13 out)."""
    high_x = float(width) if width else float("inf")
    high_y = float(height) if height else float("inf")
    return [[round(min(max(x, 0.0), high_x), 3), round(min(max(y, 0.0), high_y), 3)] for x, y in points]


def _unit_circle(vertices: int) -> list[tuple[float, float]]:
    return [(math.cos(2 * math.pi * i / vertices), math.sin(2 * math.pi * i / vertices)) for i in range(vertices)]


_CIRCLE = _unit_circle(ELLIPSE_VERTICES)


def ellipse_ring(g: dict, width: int | None = None, height: int | None = None) -> list[list[float]]:
    rad = math.radians(g.get("angle", 0.0))
    cos, sin = math.cos(rad), math.sin(rad)
    cx, cy, rx, ry = g["cx"], g["cy"], g["rx"], g["ry"]
    return _clipped(((cx + rx * c * cos - ry * s * sin, cy + rx * c * sin + ry * s * cos) for c, s in _CIRCLE),
                    width, height)


def rotated_ring(g: dict, width: int | None = None, height: int | None = None) -> list[list[float]]:
    return _clipped(_rotated_corners(g["cx"], g["cy"], g["w"] / 2, g["h"] / 2, g.get("angle", 0.0)), width, height)


def bbox_ring(g: dict) -> list[list[float]]:
    x, y, w, h = g["x"], g["y"], g["w"], g["h"]
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def outline(kind: str, g: dict, width: int | None, height: int | None) -> list[list[float]] | None:
    """The exterior ring of an area shape as a polygon (holes are the caller's business); None otherwise."""
    if kind == "polygon":
        return g["exterior"]
    if kind == "rotated_bbox":
        return rotated_ring(g, width, height)
    if kind == "ellipse":
        return ellipse_ring(g, width, height)
    if kind == "bbox":
        return bbox_ring(g)
    return None


def ring_area(ring: list[list[float]]) -> float:
    total = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def rle_area(rle: dict) -> int:
    return int(sum(rle["counts"][1::2]))


def polygon_to_rle(exterior, holes, width: int, height: int) -> dict:
    """A polygon with holes rasterised (pixel centres inside the exterior and outside every hole) to COCO's
    uncompressed, column-major RLE."""
    import numpy as np
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    draw.polygon([tuple(p) for p in exterior], fill=1)
    for hole in holes:
        draw.polygon([tuple(p) for p in hole], fill=0)
    return mask_to_rle(np.asarray(canvas, dtype=np.uint8))


def mask_to_rle(mask) -> dict:
    import numpy as np

    height, width = mask.shape
    flat = np.asarray(mask, dtype=np.uint8).ravel(order="F")
    if flat.size == 0:
        return {"size": [height, width], "counts": [0]}
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0, *counts]
    return {"size": [int(height), int(width)], "counts": [int(c) for c in counts]}


def rle_counts_from_string(text: str) -> list[int]:
    """Decodes COCO's compressed RLE string (pycocotools' rleFrString) without pycocotools.

    Raises ValueError for a malformed string or more than MAX_RLE_COUNTS runs."""
    counts: list[int] = []
    position, length = 0, len(text)
    while position < length:
        value, shift, more = 0, 0, True
        while more:
            if position >= length:
                raise ValueError("The compressed RLE string ends in the middle of a run.")
            c = ord(text[position]) - 48
            if not 0 <= c < 64:
                raise ValueError("The compressed RLE string holds a character outside its alphabet.")
            value |= (c & 0x1F) << (5 * shift)
            more = bool(c & 0x20)
            position += 1
            shift += 1
            if shift > 13:
                raise ValueError("A run of the compressed RLE string is too long.")
            if not more and c & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
        if len(counts) > MAX_RLE_COUNTS:
            raise ValueError(f"At most {MAX_RLE_COUNTS} runs.")
    return counts


def num(value: float) -> float | int:
    """A coordinate as written: integers without ".0", others rounded to 3 decimals."""
    value = round(float(value), 3)
    return int(value) if value.is_integer() else value


# --- Reading --------------------------------------------------------------------------------------


class FormatError(ValueError):
    """The whole file is unusable (not a zip, no annotation file, malformed JSON): a 400 or a rejected job."""


@dataclass
class ParsedRow:
    """One annotation read from a file: which image it belongs to, the annotation as the write path takes it
    (type, label, geometry, attributes, ...), and where it came from, for the error report."""

    image: str  # item path relative to the dataset root ("a.jpg", "cats/a.jpg"); or a stem when by_stem
    annotation: dict
    reference: str
    by_stem: bool = False


@dataclass
class ParsedFile:
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (reference, message)
    images: set[str] = field(default_factory=set)  # every image the file names, annotated or not

    def add(self, row: ParsedRow) -> None:
        if len(self.rows) >= MAX_IMPORT_ANNOTATIONS:
            raise FormatError(f"A file holds at most {MAX_IMPORT_ANNOTATIONS:,} annotations.")
        self.rows.append(row)

    def error(self, reference: str, message: str) -> None:
        self.errors.append((reference, message))


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large for a number")
    return value


def load_json(data: bytes | str, *, what: str) -> Any:
    """JSON from an untrusted file: no NaN or Infinity (nor numbers that overflow to it), no depth bombs."""
    if len(data) > MAX_JSON_BYTES:
        raise FormatError(f"{what} is larger than {MAX_JSON_BYTES // 1024**2} MB.")
    try:
        if isinstance(data, bytes):
            data = data.decode("utf-8-sig")
        return json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise FormatError(f"{what} is nested too deeply.") from None
    except UnicodeDecodeError:
        raise FormatError(f"{what} is not UTF-8 text.") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise FormatError(f"{what} is not valid JSON: {str(exc)[:200]}.") from None


MAX_ZIP_ENTRIES = 500_000


def zip_members(stream, *, wanted, max_entry_bytes: int = MAX_JSON_BYTES):
    """(path, bytes) of each file of an untrusted zip whose path `wanted(path)` accepts, after the archive's
    checks (zip-slip, links, bombs: apps/storage/intake/archives.py). Paths are relative, "/"-separated."""
    from apps.storage.intake import IntakeError, iter_zip

    try:
        for entry in iter_zip(stream, max_entries=MAX_ZIP_ENTRIES, max_entry_bytes=max_entry_bytes):
            path = f"{entry.folder.strip('/')}/{entry.name}".lstrip("/")
            if wanted(path):
                yield path, entry.stream.read()
    except IntakeError as exc:
        raise FormatError(exc.message) from None


def is_zip(stream) -> bool:
    head = stream.read(4)
    stream.seek(0)
    return head[:2] == b"PK"


# --- Writing --------------------------------------------------------------------------------------

dumps = json.JSONEncoder(ensure_ascii=False, check_circular=False, allow_nan=False, separators=(",", ":")).encode

COPY_PIECE = 1024 * 1024


class Spool:
    """A JSON array's elements written to a temporary file as they come (comma-separated, never all in memory),
    copied into the archive when the document is assembled."""

    def __init__(self) -> None:
        import tempfile

        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.count = 0
        self._pending: list[str] = []
        self._pending_chars = 0

    def append(self, text: str) -> None:
        if self.count:
            self._pending.append(",")
        self._pending.append(text)
        self.count += 1
        self._pending_chars += len(text)
        if self._pending_chars > COPY_PIECE:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.file.write("".join(self._pending).encode())
            self._pending, self._pending_chars = [], 0

    def copy_to(self, out) -> None:
        self.flush()
        self.file.seek(0)
        while piece := self.file.read(COPY_PIECE):
            out.write(piece)

    def close(self) -> None:
        self.file.close()


class Writer:
    """Receives the export's items one at a time, each with its annotations, and writes them into `archive`
    (a zipfile.ZipFile open for writing) without holding more than one item in memory."""

    name = ""
    skips_proposed = True  # model suggestions nobody accepted are not training data; native keeps them
    raw_attributes = False  # True: takes ExportAnnotation.attributes as JSON text, copied into the file as it is

    def __init__(self, archive, *, categories: list[Category], dataset_name: str = "",
                 include_revisions: bool = False) -> None:
        self.archive = archive
        self.categories = categories
        self.by_name = {c.name: c for c in categories}
        self.dataset_name = dataset_name
        self.include_revisions = include_revisions
        self.counts = ExportCounts()

    def add(self, item: ExportItem, annotations: list[ExportAnnotation], revisions: list[dict] | None = None) -> None:
        raise NotImplementedError

    def close(self) -> ExportCounts:
        return self.counts

    def write_text(self, path: str, text: str) -> None:
        self.archive.writestr(path, text.encode())
