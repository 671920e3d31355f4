"""Pascal VOC detection, in a zip: `Annotations/<path>.xml` per image, `ImageSets/Main/default.txt` (the image
list) and `labelmap.txt` (label:r,g,b:: per line, which datumaro reads for the label set).

Each object is its label and a `bndbox`: boxes as they are, rotated boxes, ellipses, polygons and masks as their
axis-aligned bounding box (VOC detection holds only boxes). Coordinates are the stored pixel coordinates
(0-based, floats), as CVAT and datumaro write them. Recipe attributes go in `<attributes><attribute><name>/<value>`
(lists as JSON, booleans true/false). Points, polylines, keypoints and classifications are skipped and counted.
`truncated`, `difficult` and `occluded` are written as 0 unless the annotation has a boolean attribute of that name.

Read: every .xml file of the zip, parsed with defusedxml (no DTDs, no entities: no billion laughs, no external
entities). `<filename>` names the item (with the xml's folder under Annotations/ as its folder); without it the
xml's own path does, by stem. Attribute values are text and are typed by the recipe when they are checked.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

from ..geometry import bounding_box
from .common import (
    ExportAnnotation,
    ExportItem,
    FormatError,
    ParsedFile,
    ParsedRow,
    Writer,
    item_path,
    num,
    stem,
    zip_members,
)

BOX_TYPES = ("bbox", "rotated_bbox", "ellipse", "polygon", "mask")
MAX_XML_BYTES = 16 * 1024 * 1024
FLAGS = ("truncated", "difficult", "occluded")


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _rgb(color: str) -> str:
    if isinstance(color, str) and len(color) == 7 and color.startswith("#"):
        return ",".join(str(int(color[i:i + 2], 16)) for i in (1, 3, 5))
    return "0,0,0"


class VocWriter(Writer):
    name = "voc"

    def __init__(self, archive, **kwargs) -> None:
        super().__init__(archive, **kwargs)
        import tempfile

        self.image_list = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())

    def add(self, item: ExportItem, annotations: list[ExportAnnotation], revisions=None) -> None:
        if item.kind != "image":
            self.counts.skip("item that is not an image")
            return
        path = item_path(item)
        folder, _, name = path.rpartition("/")
        objects = []
        for a in annotations:
            if a.label not in self.by_name:
                self.counts.skip("label not in the recipe")
                continue
            if a.type not in BOX_TYPES:
                self.counts.skip(a.type)
                continue
            objects.append(self._object(a))
            self.counts.annotations += 1
        xml = (
            f"<annotation><folder>{escape(folder)}</folder><filename>{escape(name)}</filename>"
            f"<source><database>{escape(self.dataset_name)}</database><annotation>dlsaas</annotation>"
            f"<image>dlsaas</image></source>"
            f"<size><width>{item.width or 0}</width><height>{item.height or 0}</height><depth>3</depth></size>"
            f"<segmented>0</segmented>{''.join(objects)}</annotation>\n"
        )
        self.archive.writestr(f"Annotations/{stem(path)}.xml", xml.encode())
        self.image_list.write(f"{stem(path)}\n".encode())
        self.counts.items += 1

    def _object(self, a: ExportAnnotation) -> str:
        x, y, w, h = bounding_box(a.type, a.geometry)
        attributes = a.attributes or {}
        flags = "".join(f"<{f}>{1 if attributes.get(f) is True else 0}</{f}>" for f in FLAGS)
        extra = "".join(
            f"<attribute><name>{escape(str(k))}</name><value>{escape(_text(v))}</value></attribute>"
            for k, v in attributes.items()
        )
        return (
            f"<object><name>{escape(a.label)}</name><pose>Unspecified</pose>{flags}"
            f"<bndbox><xmin>{num(x)}</xmin><ymin>{num(y)}</ymin><xmax>{num(x + w)}</xmax><ymax>{num(y + h)}</ymax>"
            f"</bndbox><attributes>{extra}</attributes></object>"
        )

    def close(self):
        self.write_text("labelmap.txt", "# label:color_rgb:parts:actions\n" + "".join(
            f"{c.name}:{_rgb(c.color)}::\n" for c in self.categories))
        with self.archive.open("ImageSets/Main/default.txt", "w", force_zip64=True) as out:
            self.image_list.seek(0)
            while piece := self.image_list.read(1024 * 1024):
                out.write(piece)
        self.image_list.close()
        return self.counts


# --- Reading --------------------------------------------------------------------------------------


def read_voc(stream, filename: str) -> ParsedFile:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    parsed = ParsedFile()
    found = 0
    for path, data in zip_members(stream, wanted=lambda p: p.lower().endswith(".xml"), max_entry_bytes=MAX_XML_BYTES):
        found += 1
        try:
            root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        except DefusedXmlException:
            parsed.error(path, "XML with a DTD or entity declarations is refused (entity expansion bombs).")
            continue
        except (ParseError, ValueError, RecursionError) as exc:
            parsed.error(path, f"Not well-formed XML: {str(exc)[:200]}")
            continue
        if root.tag != "annotation":
            parsed.error(path, "A VOC file's root element is <annotation>.")
            continue
        image, by_stem = _image_of(path, root)
        parsed.images.add(image)
        for index, obj in enumerate(root.iter("object")):
            reference = f"{path} object {index + 1}"
            try:
                parsed.add(ParsedRow(image=image, annotation=_object(obj), reference=reference, by_stem=by_stem))
            except ValueError as exc:
                parsed.error(reference, str(exc))
    if not found:
        raise FormatError("The zip archive holds no VOC .xml file (Annotations/*.xml).")
    return parsed


def _image_of(path: str, root) -> tuple[str, bool]:
    parts = path.split("/")
    if parts[0].lower() == "annotations":
        parts = parts[1:]
    folder = "/".join(parts[:-1])
    filename = (root.findtext("filename") or "").strip()
    if filename and "/" not in filename and "\\" not in filename:
        return (f"{folder}/{filename}" if folder else filename), False
    return stem("/".join(parts)), True


def _object(obj) -> dict:
    label = (obj.findtext("name") or "").strip()
    if not label:
        raise ValueError("The object has no <name> (its label).")
    box = obj.find("bndbox")
    if box is None:
        raise ValueError("The object has no <bndbox>.")
    values = {}
    for key in ("xmin", "ymin", "xmax", "ymax"):
        text = (box.findtext(key) or "").strip()
        try:
            values[key] = float(text)
        except ValueError:
            raise ValueError(f"bndbox {key} {text[:20]!r} is not a number.") from None
    attributes = {}
    for attribute in obj.iter("attribute"):
        name = (attribute.findtext("name") or "").strip()
        if name:
            attributes[name] = attribute.findtext("value") or ""
    geometry = {"x": values["xmin"], "y": values["ymin"], "w": values["xmax"] - values["xmin"],
                "h": values["ymax"] - values["ymin"]}
    return {"type": "bbox", "label": label, "geometry": geometry, "attributes": attributes, "source": "import",
            "_text_attributes": True}
