"""Native JSON: everything, losslessly, in `annotations.json` inside a zip.

    {"format": "dlsaas-annotations", "version": 1, "dataset": {"id", "name"},
     "labels": [{"id", "name", "color", "skeleton"}],
     "items": [{"id", "path", "name", "folder", "kind", "width", "height", "metadata",
                "annotations": [{"id", "type", "label", "attributes", "geometry", "z_order", "frame", "source",
                                 "confidence", "review_state", "version", "recipe_version", "created_at",
                                 "updated_at"}],
                "revisions": [{"annotation_id", "version", "action", "changed", "data", "actor_id", "at"}]}]}

Every item of the selection is written, with every annotation type and model suggestions still waiting for review
(`review_state` "proposed"). `revisions` appear only when asked for; people appear in them by user id only.

Read: the same document (bare .json or the zip). Items are matched by `path` (or `folder` + `name`); each
annotation's type, label, geometry, attributes, z_order, frame, source, confidence and review_state are imported
and pinned to the dataset's current recipe version; ids, versions and revisions are not imported.
"""

from __future__ import annotations

from .common import (
    ExportAnnotation,
    ExportItem,
    FormatError,
    ParsedFile,
    ParsedRow,
    Writer,
    dumps,
    is_zip,
    item_path,
    load_json,
    zip_members,
)

DOCUMENT = "annotations.json"
FORMAT_NAME = "dlsaas-annotations"
IMPORTED_FIELDS = ("type", "label", "attributes", "geometry", "z_order", "frame", "source", "confidence",
                   "review_state")


class NativeWriter(Writer):
    name = "native"
    skips_proposed = False

    def __init__(self, archive, **kwargs) -> None:
        super().__init__(archive, **kwargs)
        self.out = self.archive.open(DOCUMENT, "w", force_zip64=True)
        labels = [{"id": c.id, "name": c.name, "color": c.color, "skeleton": c.skeleton} for c in self.categories]
        self.out.write(dumps({"format": FORMAT_NAME, "version": 1, "dataset": {"name": self.dataset_name},
                              "labels": labels})[:-1].encode())
        self.out.write(b',"items":[')
        self.pending: list[str] = []
        self.pending_chars = 0

    def add(self, item: ExportItem, annotations: list[ExportAnnotation], revisions=None) -> None:
        record = {
            "id": item.id, "path": item_path(item), "name": item.name, "folder": item.folder, "kind": item.kind,
            "width": item.width, "height": item.height, "metadata": item.metadata or {},
            "annotations": [{
                "id": a.id, "type": a.type, "label": a.label, "attributes": a.attributes, "geometry": a.geometry,
                "z_order": a.z_order, "frame": a.frame, "source": a.source, "confidence": a.confidence,
                "review_state": a.review_state, "version": a.version, "recipe_version": a.recipe_version_id,
                "created_at": a.created_at, "updated_at": a.updated_at,
            } for a in annotations],
        }
        if self.include_revisions:
            record["revisions"] = revisions or []
        text = dumps(record)
        if self.counts.items:
            self.pending.append(",")
        self.pending.append(text)
        self.pending_chars += len(text)
        if self.pending_chars > 1024 * 1024:
            self._flush()
        self.counts.items += 1
        self.counts.annotations += len(annotations)

    def _flush(self) -> None:
        self.out.write("".join(self.pending).encode())
        self.pending, self.pending_chars = [], 0

    def close(self):
        self._flush()
        self.out.write(b"]}")
        self.out.close()
        return self.counts


def read_native(stream, filename: str) -> ParsedFile:
    if is_zip(stream):
        documents = list(zip_members(stream, wanted=lambda p: p.lower().endswith(".json")))
        if len(documents) != 1:
            raise FormatError(f"A native zip holds one {DOCUMENT}; this one holds {len(documents)} .json files.")
        path, data = documents[0]
    else:
        path, data = filename or DOCUMENT, stream.read()
    document = load_json(data, what=path)
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise FormatError(f"{path} is not a native export: its 'format' is not {FORMAT_NAME!r}.")
    items = document.get("items")
    if not isinstance(items, list):
        raise FormatError(f"{path}: 'items' must be a list.")
    parsed = ParsedFile()
    for index, item in enumerate(items):
        reference = f"items[{index}]"
        if not isinstance(item, dict):
            parsed.error(reference, "An item is a JSON object.")
            continue
        image = _path_of(item)
        if image is None:
            parsed.error(reference, "An item names its 'path' (or 'folder' and 'name').")
            continue
        parsed.images.add(image)
        annotations = item.get("annotations", [])
        if not isinstance(annotations, list):
            parsed.error(f"{reference}.annotations", "Annotations are a list.")
            continue
        for position, annotation in enumerate(annotations):
            row_reference = f"{reference}.annotations[{position}]"
            if not isinstance(annotation, dict):
                parsed.error(row_reference, "An annotation is a JSON object.")
                continue
            clean = {k: annotation[k] for k in IMPORTED_FIELDS if k in annotation and annotation[k] is not None}
            parsed.add(ParsedRow(image=image, annotation=clean, reference=row_reference))
    return parsed


def _path_of(item: dict) -> str | None:
    path = item.get("path")
    if isinstance(path, str) and path.strip():
        return path.strip().lstrip("/")
    name, folder = item.get("name"), item.get("folder", "/")
    if isinstance(name, str) and name.strip() and isinstance(folder, str):
        folder = folder.strip("/")
        return f"{folder}/{name}" if folder else name
    return None
