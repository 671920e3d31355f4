"""Export and import formats: round trips through every format, and files that pycocotools and datumaro load.

The export job and the import job are called directly (tests/annotations/test_exports.py has the API, the
worker and the hostile inputs). datumaro runs in its own virtual environment (its pins conflict with ours):
built once into .venv/datumaro from requirements-datumaro.txt, then reused.
"""

import io
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.annotations import exports, imports
from apps.annotations.formats.common import mask_to_rle, rle_counts_from_string
from apps.annotations.models import Annotation, AnnotationImportJob, ExportJob
from apps.annotations.services import annotations_change
from apps.storage.services import blob_read_bytes
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe

ROOT = Path(__file__).resolve().parents[2]
DATUMARO_VENV = Path(os.environ.get("DLSAAS_DATUMARO_VENV", ROOT / ".venv" / "datumaro"))
DATUMARO_REQUIREMENTS = ROOT / "requirements-datumaro.txt"
WIDTH, HEIGHT = 640, 480


def _mask_rle():
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[300:340, 500:560] = 1
    return mask_to_rle(mask)


SHAPES = {
    "a.jpg": [
        {"type": "bbox", "label": "car", "geometry": {"x": 10, "y": 20, "w": 100, "h": 50},
         "attributes": {"colour": "red", "doors": 4, "tags": ["taxi", "parked"], "occluded": True}},
        {"type": "rotated_bbox", "label": "car", "geometry": {"cx": 300, "cy": 200, "w": 80, "h": 40, "angle": 30},
         "attributes": {"colour": "blue"}},
        {"type": "ellipse", "label": "car", "geometry": {"cx": 400, "cy": 300, "rx": 50, "ry": 30, "angle": 15},
         "attributes": {"colour": "other"}},
        {"type": "polygon", "label": "car", "attributes": {"colour": "red"},
         "geometry": {"exterior": [[50, 250], [250, 250], [250, 450], [50, 450]],
                      "holes": [[[100, 300], [150, 300], [150, 350], [100, 350]]]}},
        {"type": "polygon", "label": "truck", "geometry": {"exterior": [[400, 20], [600, 20], [500, 150]]}},
        {"type": "mask", "label": "car", "geometry": {"rle": _mask_rle()}, "attributes": {"colour": "red"}},
        {"type": "keypoints", "label": "person",
         "geometry": {"points": [[320, 100, 2], [300, 140, 1], [0, 0, 0]]}},
        {"type": "point", "label": "car", "geometry": {"x": 5, "y": 5}, "attributes": {"colour": "red"}},
        {"type": "polyline", "label": "car", "geometry": {"points": [[1, 1], [30, 40]]},
         "attributes": {"colour": "red"}},
        {"type": "classification", "label": "car", "attributes": {"colour": "red", "weather": "rain"}},
    ],
    "b.jpg": [
        {"type": "bbox", "label": "car", "geometry": {"x": 1, "y": 2, "w": 3, "h": 4}, "source": "model",
         "review_state": "proposed", "confidence": 0.75, "attributes": {"colour": "red"}},
    ],
    "night/c.png": [
        {"type": "bbox", "label": "truck", "geometry": {"x": 600, "y": 400, "w": 40, "h": 80}},
    ],
    "d.jpg": [],
}


def _item(dataset, path):
    folder, _, name = path.rpartition("/")
    return ItemFactory(dataset=dataset, name=name, folder=f"/{folder}", width=WIDTH, height=HEIGHT)


@pytest.fixture
def source(org_a, owner_a):
    """A dataset with every annotation type on a.jpg, a model suggestion on b.jpg, one box in a folder, one empty
    image."""
    dataset = DatasetFactory(organization=org_a, name="Streets")
    published_recipe(org_a, owner_a.user, dataset=dataset)
    items = {}
    for path, shapes in SHAPES.items():
        items[path] = _item(dataset, path)
        if shapes:
            annotations_change(org=org_a, actor=owner_a.user, item=items[path], create=shapes)
    return {"dataset": dataset, "items": items}


@pytest.fixture
def target(org_a, owner_a):
    """An empty dataset with the same images and the same recipe, to import into."""
    dataset = DatasetFactory(organization=org_a, name="Copy")
    published_recipe(org_a, owner_a.user, name="Street copy", dataset=dataset)
    return {"dataset": dataset, "items": {path: _item(dataset, path) for path in SHAPES}}


def run_export(org, actor, dataset, format, **options) -> zipfile.ZipFile:
    job = exports.export_create(org=org, actor=actor, dataset=dataset, format=format, **options)
    exports.export_run(job=job)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE, job.error
    return zipfile.ZipFile(io.BytesIO(blob_read_bytes(job.result)))


def run_import(org, actor, dataset, format, content: bytes, name: str) -> AnnotationImportJob:
    upload = SimpleUploadedFile(name, content)
    job = imports.annotation_import_start(org=org, actor=actor, dataset=dataset, upload=upload, format=format)
    imports.annotation_import_run(job=job)
    job.refresh_from_db()
    return job


def zip_bytes(archive: zipfile.ZipFile) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as copy:
        for info in archive.infolist():
            copy.writestr(info.filename, archive.read(info))
    return out.getvalue()


def imported(dataset):
    """{(item path, type, label): [geometry, ...]} of a dataset's annotations."""
    out = {}
    for a in Annotation.objects.filter(dataset=dataset).select_related("item").order_by("id"):
        path = f"{a.item.folder.strip('/')}/{a.item.name}".lstrip("/")
        out.setdefault((path, a.type, a.label), []).append(a)
    return out


def close(a, b, tolerance=0.01):
    return all(math.isclose(x, y, abs_tol=tolerance) for x, y in zip(a, b, strict=True))


# --- Native: everything, losslessly ---------------------------------------------------------------


def test_native_round_trip_keeps_every_annotation_exactly(org_a, owner_a, source, target):
    archive = run_export(org_a, owner_a.user, source["dataset"], "native", include_revisions=True)

    job = run_import(org_a, owner_a.user, target["dataset"], "native", zip_bytes(archive), "export.zip")

    assert job.status == AnnotationImportJob.Status.DONE, job.errors
    fields = ("type", "label", "attributes", "geometry", "z_order", "frame", "source", "review_state", "confidence")
    original = sorted((a.item.name, *(json.dumps(getattr(a, f), sort_keys=True) for f in fields))
                      for a in Annotation.objects.filter(dataset=source["dataset"]).select_related("item"))
    copied = sorted((a.item.name, *(json.dumps(getattr(a, f), sort_keys=True) for f in fields))
                    for a in Annotation.objects.filter(dataset=target["dataset"]).select_related("item"))
    assert copied == original
    assert job.annotations_created == len(original) == 12


def test_native_export_holds_items_metadata_and_revisions(org_a, owner_a, source):
    archive = run_export(org_a, owner_a.user, source["dataset"], "native", include_revisions=True)

    document = json.loads(archive.read("annotations.json"))

    assert document["format"] == "dlsaas-annotations"
    assert [i["path"] for i in document["items"]] == list(SHAPES)
    first = document["items"][0]
    assert {a["type"] for a in first["annotations"]} == {s["type"] for s in SHAPES["a.jpg"]}
    assert {r["action"] for r in first["revisions"]} == {"created"}
    assert "email" not in json.dumps(first["revisions"])


# --- COCO -----------------------------------------------------------------------------------------


def test_coco_export_loads_in_pycocotools_with_masks_and_keypoints(org_a, owner_a, source, tmp_path):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    archive = run_export(org_a, owner_a.user, source["dataset"], "coco")
    archive.extractall(tmp_path)

    coco = COCO(str(tmp_path / "annotations/instances_default.json"))
    people = COCO(str(tmp_path / "annotations/person_keypoints_default.json"))

    assert [coco.imgs[i]["file_name"] for i in sorted(coco.imgs)] == list(SHAPES)
    names = {c["name"]: c["id"] for c in coco.loadCats(coco.getCatIds())}
    assert names == {"car": 1, "truck": 2, "person": 3}
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) == 7  # box, rotated box, ellipse, holed polygon, triangle, mask, the folder's truck
    for ann in anns:
        mask = coco.annToMask(ann) if ann["segmentation"] else None
        if mask is not None:
            assert mask.shape == (HEIGHT, WIDTH)
            assert abs(int(mask.sum()) - ann["area"]) <= 0.05 * ann["area"] + 60
    holed = next(a for a in anns if isinstance(a["segmentation"], dict) and a["iscrowd"] == 0)
    assert float(mask_utils.area(mask_utils.frPyObjects(holed["segmentation"], HEIGHT, WIDTH))) == pytest.approx(
        200 * 200 - 50 * 50, rel=0.03)
    crowd = next(a for a in anns if a["iscrowd"] == 1)
    assert crowd["area"] == 40 * 60 and crowd["bbox"] == [500, 300, 60, 40]
    box = next(a for a in anns if a["bbox"] == [10, 20, 100, 50])
    assert box["attributes"] == {"colour": "red", "doors": 4, "tags": ["taxi", "parked"], "occluded": True}
    person = people.loadAnns(people.getAnnIds())[0]
    assert person["keypoints"] == [320, 100, 2, 300, 140, 1, 0, 0, 0] and person["num_keypoints"] == 2
    assert people.loadCats(3)[0]["keypoints"] == ["head", "left_hand", "right_hand"]
    assert people.loadCats(3)[0]["skeleton"] == [[1, 2], [1, 3]]


def test_coco_export_counts_what_it_cannot_hold(org_a, owner_a, source):
    run_export(org_a, owner_a.user, source["dataset"], "coco")

    job = ExportJob.objects.get()
    assert job.skipped == {"point": 1, "polyline": 1, "classification": 1}
    assert (job.items_done, job.annotations_done) == (4, 8)


def test_coco_round_trip(org_a, owner_a, source, target):
    archive = run_export(org_a, owner_a.user, source["dataset"], "coco")

    job = run_import(org_a, owner_a.user, target["dataset"], "coco", zip_bytes(archive), "coco.zip")

    assert job.status == AnnotationImportJob.Status.DONE, job.errors
    got = imported(target["dataset"])
    box = got["a.jpg", "bbox", "car"][0]
    assert box.geometry == {"x": 10.0, "y": 20.0, "w": 100.0, "h": 50.0}
    assert box.attributes["tags"] == ["taxi", "parked"] and box.source == "import"
    assert got["night/c.png", "bbox", "truck"][0].geometry == {"x": 600.0, "y": 400.0, "w": 40.0, "h": 80.0}
    assert got["a.jpg", "polygon", "truck"][0].geometry["exterior"] == [[400, 20], [600, 20], [500, 150]]
    polygons = got["a.jpg", "polygon", "car"]  # the rotated box (4 corners) and the ellipse (32 vertices)
    assert sorted(len(p.geometry["exterior"]) for p in polygons) == [4, 32]
    masks = got["a.jpg", "mask", "car"]  # the mask as it was, and the holed polygon as a mask
    assert _mask_rle() in [m.geometry["rle"] for m in masks] and len(masks) == 2
    person = got["a.jpg", "keypoints", "person"][0]
    assert person.geometry["points"] == [[320, 100, 2], [300, 140, 1], [0, 0, 0]]
    assert ("b.jpg", "bbox", "car") not in got  # the unaccepted model suggestion is not exported


def test_coco_compressed_rle_is_read_like_pycocotools():
    from pycocotools import mask as mask_utils

    rle = _mask_rle()
    compressed = mask_utils.frPyObjects(rle, *rle["size"])

    assert rle_counts_from_string(compressed["counts"].decode()) == rle["counts"]


# --- YOLO -----------------------------------------------------------------------------------------


def test_yolo_detection_round_trip(org_a, owner_a, source, target):
    archive = run_export(org_a, owner_a.user, source["dataset"], "yolo")
    names = archive.namelist()
    assert {"data.yaml", "obj.names", "train.txt", "labels/train/a.txt", "labels/train/night/c.txt",
            "labels/train/d.txt"} <= set(names)
    assert archive.read("labels/train/d.txt") == b""
    assert archive.read("obj.names") == b"car\ntruck\nperson\n"

    job = run_import(org_a, owner_a.user, target["dataset"], "yolo", zip_bytes(archive), "yolo.zip")

    assert job.status == AnnotationImportJob.Status.DONE, job.errors
    got = imported(target["dataset"])
    boxes = {(k[0], k[2]): [tuple(a.geometry[c] for c in "xywh") for a in v] for k, v in got.items()}
    assert set(got) == {("a.jpg", "bbox", "car"), ("a.jpg", "bbox", "truck"), ("night/c.png", "bbox", "truck")}
    assert any(close(b, (10, 20, 100, 50)) for b in boxes["a.jpg", "car"])
    assert close(boxes["night/c.png", "truck"][0], (600, 400, 40, 80))
    assert len(boxes["a.jpg", "car"]) == 5  # box, rotated box, ellipse, polygon, mask: as boxes


def test_yolo_segmentation_round_trip(org_a, owner_a, source, target):
    archive = run_export(org_a, owner_a.user, source["dataset"], "yolo_seg")
    line = archive.read("labels/train/a.txt").decode().splitlines()[0].split()
    assert line[0] == "0" and len(line) == 9  # the box as a 4-corner polygon

    job = run_import(org_a, owner_a.user, target["dataset"], "yolo_seg", zip_bytes(archive), "seg.zip")

    assert job.status == AnnotationImportJob.Status.DONE, job.errors
    got = imported(target["dataset"])
    assert sorted(len(a.geometry["exterior"]) for a in got["a.jpg", "polygon", "car"]) == [4, 4, 4, 32]
    triangle = got["a.jpg", "polygon", "truck"][0].geometry["exterior"]
    assert all(close(p, q) for p, q in zip(triangle, [[400, 20], [600, 20], [500, 150]], strict=True))
    assert ExportJob.objects.get().skipped["mask"] == 1


# --- VOC ------------------------------------------------------------------------------------------


def test_voc_round_trip_types_attributes_back(org_a, owner_a, source, target):
    archive = run_export(org_a, owner_a.user, source["dataset"], "voc")
    assert archive.read("ImageSets/Main/default.txt") == b"a\nb\nnight/c\nd\n"

    job = run_import(org_a, owner_a.user, target["dataset"], "voc", zip_bytes(archive), "voc.zip")

    assert job.status == AnnotationImportJob.Status.DONE, job.errors
    got = imported(target["dataset"])
    box = next(a for a in got["a.jpg", "bbox", "car"] if a.geometry == {"x": 10, "y": 20, "w": 100, "h": 50})
    assert box.attributes == {"colour": "red", "doors": 4, "tags": ["taxi", "parked"], "occluded": True}
    assert got["night/c.png", "bbox", "truck"][0].geometry == {"x": 600, "y": 400, "w": 40, "h": 80}


# --- datumaro ---------------------------------------------------------------------------------------


def _datumaro_version(python: Path) -> str | None:
    if not python.exists():
        return None
    result = subprocess.run([str(python), "-c", "import datumaro; print(datumaro.__version__)"], capture_output=True,
                            text=True, timeout=60)
    return result.stdout.strip() if result.returncode == 0 else None


@pytest.fixture(scope="session")
def datumaro_python():
    """datumaro's interpreter, building its virtual environment on first use (about 30 s; `make install-dev` may
    build it beforehand)."""
    python = DATUMARO_VENV / "bin" / "python"
    pinned = next(line.split("==")[1].strip() for line in DATUMARO_REQUIREMENTS.read_text().splitlines()
                  if line.startswith("datumaro=="))
    if _datumaro_version(python) != pinned:
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(DATUMARO_VENV)], check=True,
                           capture_output=True, timeout=120)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(DATUMARO_REQUIREMENTS)], check=True,
                           capture_output=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = getattr(exc, "stderr", b"") or b""
            pytest.skip(f"datumaro's environment could not be built (no package registry?): "
                        f"{output.decode(errors='replace')[-500:]}")
    return python


def datumaro_load(python, format_name: str, path: Path) -> dict:
    result = subprocess.run([str(python), str(Path(__file__).with_name("datumaro_check.py")), format_name, str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def by_item(found: dict) -> dict:
    return {item["id"]: sorted((a["type"], a["label"]) for a in item["annotations"]) for item in found["items"]}


def test_datumaro_loads_our_coco(org_a, owner_a, source, tmp_path, datumaro_python):
    run_export(org_a, owner_a.user, source["dataset"], "coco").extractall(tmp_path)
    (tmp_path / "images" / "default").mkdir(parents=True)  # where a user puts the images; datumaro wants the folder

    found = datumaro_load(datumaro_python, "coco_instances", tmp_path)
    people = datumaro_load(datumaro_python, "coco_person_keypoints", tmp_path)

    assert found["labels"][:3] == ["car", "truck", "person"]
    items = by_item(found)
    assert set(items) == {"a", "b", "night/c", "d"}
    a = items["a"]
    assert a.count(("mask", "car")) == 2 and ("polygon", "truck") in a
    assert a.count(("polygon", "car")) == 2  # the rotated box and the ellipse
    assert items["night/c"] == [("bbox", "truck")]
    assert people["labels"] == ["person"]
    keypoints = next(a for i in people["items"] if i["id"] == "a" for a in i["annotations"] if a["type"] == "points")
    assert keypoints["points"] == [320, 100, 300, 140, 0, 0]


def test_datumaro_loads_our_voc(org_a, owner_a, source, tmp_path, datumaro_python):
    run_export(org_a, owner_a.user, source["dataset"], "voc").extractall(tmp_path)

    found = datumaro_load(datumaro_python, "voc_detection", tmp_path)

    items = by_item(found)
    assert items["a"].count(("bbox", "car")) == 5 and items["night/c"] == [("bbox", "truck")]
    box = next(a for i in found["items"] if i["id"] == "a" for a in i["annotations"] if a["bbox"][:2] == [10, 20])
    assert box["bbox"] == [10, 20, 100, 50] and box["attributes"]["colour"] == "red"


def test_datumaro_loads_our_yolo(org_a, owner_a, source, tmp_path, datumaro_python):
    from PIL import Image

    # datumaro's YOLO reader takes one folder level of images: export the root folder's items only.
    archive = run_export(org_a, owner_a.user, source["dataset"], "yolo", filter={"folder": "/"})
    archive.extractall(tmp_path)
    for line in archive.read("train.txt").decode().split():  # the images go beside the labels, as a user's would
        image = tmp_path / line
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (WIDTH, HEIGHT)).save(image)

    found = datumaro_load(datumaro_python, "yolo", tmp_path)

    assert found["labels"] == ["car", "truck", "person"]
    boxes = {i["id"]: [a["bbox"] for a in i["annotations"]] for i in found["items"]}
    assert any(close(b, (10, 20, 100, 50), tolerance=0.01) for b in boxes["a"])
    assert len(boxes["a"]) == 6 and boxes["d"] == [] and "c" not in boxes
