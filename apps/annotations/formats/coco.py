"""COCO: `annotations/instances_default.json` and, when the recipe has keypoint skeletons,
`annotations/person_keypoints_default.json`, in a zip (the layout CVAT and datumaro use).

Written per annotation type:
- bbox: `bbox`, empty `segmentation`, area w x h.
- polygon without holes: one ring in `segmentation`. A polygon with holes cannot be a COCO polygon (rings of one
  object are parts, not holes), so it goes out as uncompressed RLE of the rasterised shape, iscrowd 0.
- rotated box, ellipse: a polygon (4 corners; 32 vertices on the ellipse).
- mask: its uncompressed RLE (column-major, as stored), iscrowd 1, COCO's convention for RLE.
- keypoints: in the person_keypoints file, `keypoints` [x, y, v] per skeleton point (0, 0, 0 where absent),
  `num_keypoints`, the box of the placed points; the category carries `keypoints` (names) and `skeleton`
  (1-based edges).
- point, polyline, item classification: COCO has no place for them; counted as skipped.
Recipe attributes go into each annotation's `attributes` (as CVAT writes them); a confidence goes out as `score`.
Category ids are 1-based in recipe label order; image ids 1-based in export order; `file_name` is the item's
path from the dataset root.

Read: the same files (a zip, or one .json). `bbox` alone is a box; a polygon `segmentation` with several rings
becomes one polygon per ring; an RLE `segmentation` (list or compressed string counts) a mask; non-empty
`keypoints` a keypoint skeleton (the category's keypoint names must be the label's skeleton points, in order).
"""

from __future__ import annotations

from ..geometry import bounding_box, mask_bbox
from .common import (
    ExportAnnotation,
    ExportItem,
    FormatError,
    ParsedFile,
    ParsedRow,
    Spool,
    Writer,
    dumps,
    is_zip,
    item_path,
    load_json,
    outline,
    polygon_to_rle,
    ring_area,
    rle_area,
    rle_counts_from_string,
    zip_members,
)

INSTANCES = "annotations/instances_default.json"
KEYPOINTS = "annotations/person_keypoints_default.json"
BOOKKEEPING_ATTRIBUTES = ("occluded", "is_crowd", "rotation", "track_id", "keyframe", "z_order", "score")


def _box(values) -> str:
    return "[" + ",".join(repr(float(v)) for v in values) + "]"


class CocoWriter(Writer):
    name = "coco"
    raw_attributes = True

    def __init__(self, archive, **kwargs) -> None:
        super().__init__(archive, **kwargs)
        self.images = Spool()
        self.instances = Spool()
        self.keypoints = Spool() if any(c.skeleton for c in self.categories) else None
        self.next_annotation = 1

    def add(self, item: ExportItem, annotations: list[ExportAnnotation], revisions=None) -> None:
        if item.kind != "image":
            self.counts.skip("item that is not an image")
            return
        image_id = self.images.count + 1
        self.images.append(dumps({
            "id": image_id, "file_name": item_path(item), "width": item.width or 0, "height": item.height or 0,
            "license": 0, "flickr_url": "", "coco_url": "", "date_captured": 0,
        }))
        self.counts.items += 1
        for annotation in annotations:
            written = self._annotation(item, annotation)
            if written is None:
                continue
            spool, body = written
            spool.append(f'{{"id":{self.next_annotation},"image_id":{image_id},{body}}}')
            self.next_annotation += 1
            self.counts.annotations += 1

    def _annotation(self, item: ExportItem, a: ExportAnnotation) -> tuple[Spool, str] | None:
        """The annotation's JSON members after id and image_id. Built as text: this runs a million times per
        million annotations, and the numbers are floats and ints whose repr is valid JSON (stored geometry is
        finite: validation.py)."""
        category = self.by_name.get(a.label)
        if category is None:
            self.counts.skip("label not in the recipe")
            return None
        g, kind = a.geometry, a.type
        attributes = a.attributes if isinstance(a.attributes, str) else dumps(a.attributes or {})
        tail = f',"attributes":{attributes}' + (f',"score":{a.confidence!r}' if a.confidence is not None else "")
        head = f'"category_id":{category.id}'
        if kind == "bbox":
            x, y, w, h = g["x"], g["y"], g["w"], g["h"]
            return self.instances, (f'{head},"segmentation":[],"area":{w * h!r},"bbox":[{x!r},{y!r},{w!r},{h!r}],'
                                    f'"iscrowd":0{tail}')
        if kind == "polygon" and g.get("holes"):
            if not item.width or not item.height:
                self.counts.skip("polygon with holes on an item without a size")
                return None
            rle = polygon_to_rle(g["exterior"], g["holes"], item.width, item.height)
            if rle_area(rle) == 0:
                self.counts.skip("polygon smaller than a pixel")
                return None
            return self.instances, (f'{head},"segmentation":{dumps(rle)},"area":{rle_area(rle)},'
                                    f'"bbox":{_box(mask_bbox(rle))},"iscrowd":0{tail}')
        if kind in ("polygon", "rotated_bbox", "ellipse"):
            ring = outline(kind, g, item.width, item.height)
            flat = ",".join(f"{x!r},{y!r}" for x, y in ring)
            return self.instances, (f'{head},"segmentation":[[{flat}]],"area":{ring_area(ring)!r},'
                                    f'"bbox":{_box(bounding_box(kind, g))},"iscrowd":0{tail}')
        if kind == "mask":
            rle = g["rle"]
            return self.instances, (f'{head},"segmentation":{dumps(rle)},"area":{rle_area(rle)},'
                                    f'"bbox":{_box(mask_bbox(rle))},"iscrowd":1{tail}')
        if kind == "keypoints" and self.keypoints is not None and category.skeleton:
            x, y, w, h = bounding_box(kind, g)
            points = g["points"]
            flat = ",".join(f"{p[0]!r},{p[1]!r},{p[2]}" for p in points)
            visible = sum(1 for p in points if p[2] > 0)
            return self.keypoints, (f'{head},"segmentation":[],"area":{w * h!r},"bbox":{_box((x, y, w, h))},'
                                    f'"iscrowd":0,"keypoints":[{flat}],"num_keypoints":{visible}{tail}')
        self.counts.skip(kind)
        return None

    def _categories(self, *, keypoints_only: bool) -> list[dict]:
        out = []
        for c in self.categories:
            if keypoints_only and not c.skeleton:
                continue
            entry = {"id": c.id, "name": c.name, "supercategory": ""}
            if c.skeleton:
                entry["keypoints"] = list(c.skeleton["points"])
                entry["skeleton"] = [[i + 1, j + 1] for i, j in c.skeleton.get("edges", [])]
            out.append(entry)
        return out

    def _document(self, path: str, spool: Spool, categories: list[dict]) -> None:
        head = {"licenses": [{"name": "", "id": 0, "url": ""}],
                "info": {"description": self.dataset_name, "version": "", "contributor": "dlsaas", "url": "",
                         "year": "", "date_created": ""},
                "categories": categories}
        with self.archive.open(path, "w", force_zip64=True) as out:
            out.write(dumps(head)[:-1].encode())
            out.write(b',"images":[')
            self.images.copy_to(out)
            out.write(b'],"annotations":[')
            spool.copy_to(out)
            out.write(b"]}")

    def close(self):
        try:
            self._document(INSTANCES, self.instances, self._categories(keypoints_only=False))
            if self.keypoints is not None:
                self._document(KEYPOINTS, self.keypoints, self._categories(keypoints_only=True))
        finally:
            for spool in (self.images, self.instances, self.keypoints):
                if spool is not None:
                    spool.close()
        return self.counts


# --- Reading --------------------------------------------------------------------------------------


def read_coco(stream, filename: str) -> ParsedFile:
    parsed = ParsedFile()
    if is_zip(stream):
        documents = list(zip_members(stream, wanted=lambda p: p.lower().endswith(".json")))
        if not documents:
            raise FormatError("The zip archive holds no COCO .json file (annotations/instances_*.json).")
    else:
        documents = [(filename or "annotations.json", stream.read())]
    for path, data in documents:
        _read_document(path, load_json(data, what=path), parsed)
    return parsed


def _list(document: dict, key: str, path: str) -> list:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise FormatError(f"{path}: '{key}' must be a list.")
    return value


def _ids(entries: list, path: str, key: str) -> dict:
    out = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or type(entry.get("id")) is not int:
            raise FormatError(f"{path}: {key}[{index}] needs a whole-number id.")
        if entry["id"] in out:
            raise FormatError(f"{path}: {key} id {entry['id']} appears twice.")
        out[entry["id"]] = entry
    return out


def _read_document(path: str, document, parsed: ParsedFile) -> None:
    if not isinstance(document, dict) or "annotations" not in document:
        raise FormatError(f"{path} is not a COCO file: it has no 'annotations' list.")
    images = _ids(_list(document, "images", path), path, "images")
    categories = _ids(_list(document, "categories", path), path, "categories")
    for image_id, image in images.items():
        name = image.get("file_name")
        if not isinstance(name, str) or not name.strip() or len(name) > 1500:
            raise FormatError(f"{path}: image {image_id} needs a file_name.")
        parsed.images.add(name)
    for index, ann in enumerate(_list(document, "annotations", path)):
        reference = f"{path} annotations[{index}]"
        if not isinstance(ann, dict):
            parsed.error(reference, "An annotation is a JSON object.")
            continue
        image = images.get(ann.get("image_id")) if type(ann.get("image_id")) is int else None
        if image is None:
            parsed.error(reference, f"image_id {str(ann.get('image_id'))[:40]} is not in the file's images.")
            continue
        category = categories.get(ann.get("category_id")) if type(ann.get("category_id")) is int else None
        if category is None or not isinstance(category.get("name"), str):
            parsed.error(reference, f"category_id {str(ann.get('category_id'))[:40]} is not in the file's categories.")
            continue
        try:
            for part, annotation in enumerate(_annotations(ann, category)):
                suffix = f" part {part + 1}" if part else ""
                parsed.add(ParsedRow(image=image["file_name"], annotation=annotation, reference=reference + suffix))
        except ValueError as exc:
            parsed.error(reference, str(exc))


def _common(ann: dict, category: dict) -> dict:
    attributes = ann.get("attributes", {})
    if not isinstance(attributes, dict):
        raise ValueError("attributes must be an object.")
    out = {"label": category["name"], "attributes": attributes, "source": "import"}
    if "score" in ann:
        out["confidence"] = ann["score"]
    return out


def _annotations(ann: dict, category: dict) -> list[dict]:
    common = _common(ann, category)
    keypoints = ann.get("keypoints")
    segmentation = ann.get("segmentation")
    if keypoints:
        if not isinstance(keypoints, list) or len(keypoints) % 3:
            raise ValueError("keypoints is a list of x, y, v triplets.")
        names = category.get("keypoints")
        if names is not None and not isinstance(names, list):
            raise ValueError("The category's keypoints must be a list of names.")
        points = [keypoints[i:i + 3] for i in range(0, len(keypoints), 3)]
        return [{**common, "type": "keypoints", "geometry": {"points": points}, "_keypoint_names": names}]
    if isinstance(segmentation, dict):
        counts = segmentation.get("counts")
        if isinstance(counts, str):
            counts = rle_counts_from_string(counts)
        return [{**common, "type": "mask", "geometry": {"rle": {"size": segmentation.get("size"), "counts": counts}}}]
    if isinstance(segmentation, list) and segmentation and segmentation != [[]]:
        out = []
        for ring in segmentation:
            if not isinstance(ring, list) or len(ring) % 2 or len(ring) < 6:
                raise ValueError("A polygon is a list of at least 3 x, y pairs.")
            if len(ring) > 200_000:
                raise ValueError("A polygon has at most 100,000 vertices.")
            out.append({**common, "type": "polygon",
                        "geometry": {"exterior": [ring[i:i + 2] for i in range(0, len(ring), 2)], "holes": []}})
        return out
    bbox = ann.get("bbox")
    if isinstance(bbox, list) and len(bbox) == 4:
        return [{**common, "type": "bbox", "geometry": dict(zip(("x", "y", "w", "h"), bbox, strict=True))}]
    raise ValueError("The annotation has no bbox, segmentation or keypoints that can be read.")
