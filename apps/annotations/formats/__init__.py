"""Annotation file formats: streaming writers and defensive readers for COCO, YOLO, Pascal VOC and native JSON.

Every export is a zip. Writers take one item at a time (`Writer.add(item, annotations, revisions)`) and write
JSON, text or XML incrementally into the archive, spooling to temporary files where a format needs one document
in two parts (COCO's images and annotations), so memory stays flat however large the dataset. Readers return a
`ParsedFile`: rows (image reference + annotation as the write path takes it + where it came from) and per-row
errors; matching images to items, checking against the recipe and writing is apps/annotations/imports.py.

What goes where (details in each module's docstring):

| type           | COCO                          | YOLO detection / VOC | YOLO segmentation     | native |
|----------------|-------------------------------|----------------------|-----------------------|--------|
| bbox           | bbox                          | box                  | 4-corner polygon      | as is  |
| rotated_bbox   | 4-corner polygon              | bounding box         | 4-corner polygon      | as is  |
| ellipse        | 32-vertex polygon             | bounding box         | 32-vertex polygon     | as is  |
| polygon        | polygon; with holes: RLE      | bounding box         | exterior (holes lost) | as is  |
| mask (RLE)     | uncompressed RLE, iscrowd 1   | bounding box         | skipped               | as is  |
| keypoints      | person_keypoints file         | skipped              | skipped               | as is  |
| point,polyline | skipped                       | skipped              | skipped               | as is  |
| classification | skipped                       | skipped              | skipped               | as is  |

Skipped annotations are counted by reason on the export job (`skipped`). Model suggestions not yet accepted
(`review_state` "proposed") are left out of every format but native. Only image items go into COCO, YOLO and
VOC. File names are the item's path from the dataset root ("cats/a.jpg" for /cats/a.jpg). Coordinates are the
item's pixels (YOLO: relative). Round trips are lossless in native; elsewhere they keep what the format can hold
(a rotated box comes back as a polygon, a polygon with holes from COCO as a mask).
"""

from .coco import CocoWriter, read_coco
from .common import Category, ExportAnnotation, ExportCounts, ExportItem, FormatError, ParsedFile, ParsedRow
from .native import NativeWriter, read_native
from .voc import VocWriter, read_voc
from .yolo import YoloSegWriter, YoloWriter, read_yolo

WRITERS = {
    "coco": CocoWriter,
    "yolo": YoloWriter,
    "yolo_seg": YoloSegWriter,
    "voc": VocWriter,
    "native": NativeWriter,
}

# YOLO detection and segmentation files are read by one reader: each line's length says which it is.
READERS = {
    "coco": read_coco,
    "yolo": read_yolo,
    "voc": read_voc,
    "native": read_native,
}

__all__ = [
    "READERS",
    "WRITERS",
    "Category",
    "ExportAnnotation",
    "ExportCounts",
    "ExportItem",
    "FormatError",
    "ParsedFile",
    "ParsedRow",
]
