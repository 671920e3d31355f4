"""The preprocess node (anonymise faces, resize, re-encode images) and the filter node's NMS post-process.

A preprocess node's config (check_preprocess) names any of three operations, always applied in this order:
    blur_faces   "blur" | "pixelate": faces found by MTCNN (runtime/faces.py; face_confidence is O-Net's threshold,
                 min_face_size the smallest face searched, in pixels) are blurred or pixelated, with a margin
    resize       "max_side" (max_side: shrink, never enlarge, keeping the aspect) | "exact" (width, height; fit:
                 contain = padded, cover = centre-cropped, stretch = aspect not kept)
    format       "jpeg" | "png" | "webp" (quality 1-100 for jpeg and webp; default 90); left out, the picture
                 keeps its format (JPEG, PNG, WebP; other formats are written as PNG)
and where the result goes, `mode`:
    replace      (the default) the item's content becomes the processed picture: its old content and thumbnail
                 blobs are deleted, a new thumbnail is made, and it is audited as `item.anonymised` (with the
                 number of faces) or `item.content_replaced`. The next nodes see the new bytes. An item with
                 annotations is refused a change of size (their geometry would no longer fit): derive instead.
    derive       a new item in `folder` of the pipeline's dataset holds the result (metadata: the source's, plus
                 `derived_from` {item_id, pipeline_id, run_id, node_id}); audited as `item.derived`. The next
                 nodes of the run work on the new item; an item this pipeline derived is not processed again.
A picture nothing changes (no face found, already small enough, same format, upright) is left as it is. Images
are decoded under the intake's pixel limit; a bomb, a truncated file or a non-image fails that item's node run
with the reason, never the batch or the worker. EXIF (GPS included) is not carried into processed pictures.
"""

import posixpath

from django.core.exceptions import PermissionDenied

from apps.datasets.selectors import item_list

from .models import NodeRun
from .pipeline_nodes import NodeContext, Outcome, _passed_on

BLUR_METHODS = ("blur", "pixelate")
PAST = {"blur": "blurred", "pixelate": "pixelated"}
RESIZE_MODES = ("max_side", "exact")
MODES = ("replace", "derive")
MAX_SIDE = 16_384
MAX_SOURCE_BYTES = 256 * 1024**2  # larger content is not read into memory to be processed
DEFAULTS = {"face_confidence": 0.7, "min_face_size": 20, "quality": 90, "fit": "contain"}

# The builder page's form (pipelines.NODE_TYPES["preprocess"]): a field shows when its `when` matches.
PREPROCESS_FIELDS = (
    {"name": "blur_faces", "label": "Anonymise faces", "kind": "choice",
     "choices": [["", "No"], ["blur", "Blur them"], ["pixelate", "Pixelate them"]]},
    {"name": "face_confidence", "label": "Face detection confidence", "kind": "fraction",
     "help": "A number from 0 to 1 (default 0.7); lower finds more faces, and more false ones.",
     "when": {"blur_faces": ["blur", "pixelate"]}},
    {"name": "min_face_size", "label": "Smallest face, in pixels", "kind": "integer", "help": "12 or more; default 20.",
     "when": {"blur_faces": ["blur", "pixelate"]}},
    {"name": "resize", "label": "Resize", "kind": "choice",
     "choices": [["", "Keep the size"], ["max_side", "Shrink to a longest side (keeps the aspect)"],
                 ["exact", "To an exact width and height"]]},
    {"name": "max_side", "label": "Longest side, in pixels", "kind": "integer", "when": {"resize": "max_side"}},
    {"name": "width", "label": "Width, in pixels", "kind": "integer", "when": {"resize": "exact"}},
    {"name": "height", "label": "Height, in pixels", "kind": "integer", "when": {"resize": "exact"}},
    {"name": "fit", "label": "Fit", "kind": "choice", "when": {"resize": "exact"},
     "choices": [["contain", "Whole picture, padded (keeps the aspect)"],
                 ["cover", "Fill, centre-cropped (keeps the aspect)"], ["stretch", "Stretch (aspect not kept)"]]},
    {"name": "format", "label": "Format", "kind": "choice",
     "choices": [["", "Keep the format"], ["jpeg", "JPEG"], ["png", "PNG"], ["webp", "WebP"]]},
    {"name": "quality", "label": "Quality", "kind": "integer", "help": "1 to 100; default 90.",
     "when": {"format": ["jpeg", "webp"]}},
    {"name": "mode", "label": "Result", "kind": "choice",
     "choices": [["replace", "Replaces the item's content (the original is deleted)"],
                 ["derive", "A new item in a folder (the original stays)"]]},
    {"name": "folder", "label": "Folder of the new items", "kind": "folder", "when": {"mode": "derive"}},
)


def _integer(config: dict, key: str, path: str, errors: dict, *, low: int, high: int, default=None) -> int | None:
    value = config.get(key, default)
    if value in (None, ""):
        if default is None:
            errors[f"{path}.{key}"] = f"Required: a whole number from {low} to {high}."
        return default
    if isinstance(value, str) and value.strip().isdigit():  # the builder's text boxes
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors[f"{path}.{key}"] = f"A whole number from {low} to {high}."
        return None
    return value


def _choice(config: dict, key: str, choices: tuple, path: str, errors: dict, *, default=None):
    value = config.get(key)
    if value in (None, ""):
        return default
    if value not in choices:
        errors[f"{path}.{key}"] = f"One of {', '.join(choices)}."
        return default
    return value


def check_preprocess(config, *, org, actor, dataset, path, errors) -> dict:
    from apps.datasets.metadata import normalise_folder
    from apps.storage.intake.conf import setting

    from .pipeline_checks import unknown_keys
    from .pipelines import _number

    unknown_keys(config, {"blur_faces", "face_confidence", "min_face_size", "resize", "max_side", "width", "height",
                          "fit", "format", "quality", "mode", "folder"}, path, errors)
    clean: dict = {}
    blur = _choice(config, "blur_faces", BLUR_METHODS, path, errors)
    if blur:
        clean["blur_faces"] = blur
        clean["face_confidence"] = _number(config, "face_confidence", path, errors,
                                           default=DEFAULTS["face_confidence"])
        clean["min_face_size"] = _integer(config, "min_face_size", path, errors, low=12, high=4096,
                                          default=DEFAULTS["min_face_size"])
    resize = _choice(config, "resize", RESIZE_MODES, path, errors)
    if resize == "max_side":
        clean.update(resize=resize, max_side=_integer(config, "max_side", path, errors, low=1, high=MAX_SIDE))
    elif resize == "exact":
        clean.update(resize=resize, width=_integer(config, "width", path, errors, low=1, high=MAX_SIDE),
                     height=_integer(config, "height", path, errors, low=1, high=MAX_SIDE),
                     fit=_choice(config, "fit", ("contain", "cover", "stretch"), path, errors,
                                 default=DEFAULTS["fit"]))
        limit = setting("INTAKE_MAX_IMAGE_PIXELS")
        if clean["width"] and clean["height"] and clean["width"] * clean["height"] > limit:
            errors[f"{path}.width"] = f"{clean['width']} x {clean['height']} is more than the {limit / 1e6:g} " \
                                      "megapixels a picture may have."
    fmt = _choice(config, "format", ("jpeg", "png", "webp"), path, errors)
    if fmt:
        clean["format"] = fmt
        if fmt != "png":
            clean["quality"] = _integer(config, "quality", path, errors, low=1, high=100, default=DEFAULTS["quality"])
    if not (blur or resize or fmt) and not any(k.startswith(f"{path}.") for k in errors):
        errors[path] = "Choose at least one operation: blur faces, resize or format."
    mode = _choice(config, "mode", MODES, path, errors, default="replace")
    clean["mode"] = mode
    if mode == "derive":
        folder = config.get("folder")
        if not isinstance(folder, str) or not folder.strip() or len(folder) > 1000:
            errors[f"{path}.folder"] = "Required with mode derive: the folder the new items go to."
        else:
            clean["folder"] = normalise_folder(folder)
    elif config.get("folder") not in (None, ""):
        errors[f"{path}.folder"] = "Only mode derive writes to a folder."
    return clean


def _renamed(name: str, extension: str) -> str:
    stem, old = posixpath.splitext(name)
    if old.lower() in (".jpg", ".jpeg") and extension == ".jpg":
        return name
    return f"{stem or name}{extension}"[:500]


def _annotated(org, item_id: int) -> bool:
    from apps.annotations.models import Annotation

    return Annotation.objects.for_org(org).filter(item_id=item_id).exists()


def run_preprocess(ctx: NodeContext, rows: list[NodeRun]) -> Outcome:
    from apps.core.errors import ConflictError
    from apps.datasets.item_content import item_content_replace, item_derive
    from apps.storage.intake.conf import setting
    from apps.storage.services import blob_read_bytes

    from .runtime.faces import face_detector
    from .runtime.imageops import ImageOpError, process_image

    config, run = ctx.config, ctx.run
    items = {i.pk: i for i in item_list(dataset=run.pipeline.dataset).filter(pk__in=[r.item_id for r in rows])
             .select_related("blob", "dataset")}
    detector = face_detector() if config.get("blur_faces") else None
    operations = [op for op in ("blur_faces", "resize", "format") if config.get(op)]
    outcome, changed, faces = Outcome(), 0, 0
    for row in rows:
        item = items.get(row.item_id)
        if item is None:
            outcome.errors[row.item_id] = "The item no longer exists."
            continue
        if item.blob_id is None or item.kind != item.Kind.IMAGE:
            outcome.errors[item.pk] = f"Not an image ({item.mime or 'no content'}): nothing to pre-process."
            continue
        if (item.size or 0) > MAX_SOURCE_BYTES:
            outcome.errors[item.pk] = f"The image is larger than {MAX_SOURCE_BYTES // 1024**2} MB: not processed."
            continue
        derived_from = (item.metadata or {}).get("derived_from")
        if config["mode"] == "derive" and isinstance(derived_from, dict) and \
                derived_from.get("pipeline_id") == run.pipeline_id:
            outcome.outputs[item.pk] = {"stop": True, "preprocess": {"skipped": "derived by this pipeline"}}
            continue
        try:
            result = process_image(blob_read_bytes(item.blob), config,
                                   max_pixels=setting("INTAKE_MAX_IMAGE_PIXELS"), detector=detector)
        except ImageOpError as exc:
            outcome.errors[item.pk] = str(exc)
            continue
        except MemoryError:
            outcome.errors[item.pk] = "Not enough memory to process this image."
            continue
        summary = {"changed": result.changed, "faces": len(result.faces), "face_boxes": result.faces[:50],
                   "width": result.width, "height": result.height}
        faces += len(result.faces)
        output = {**_passed_on(row.input), "preprocess": summary}
        if not result.changed:
            outcome.outputs[item.pk] = output
            continue
        audit = {"pipeline_id": run.pipeline_id, "run_id": run.pk, "node_id": ctx.node["id"],
                 "operations": operations, **({"faces": len(result.faces)} if config.get("blur_faces") else {})}
        try:
            if config["mode"] == "replace":
                if (result.width, result.height) != (item.width, item.height) and _annotated(ctx.org, item.pk):
                    outcome.errors[item.pk] = "The item has annotations, whose geometry would no longer fit the " \
                                              "picture at its new size: use mode derive, or keep the size."
                    continue
                item_content_replace(org=ctx.org, actor=ctx.actor, item=item, data=result.data, mime=result.mime,
                                     width=result.width, height=result.height,
                                     name=_renamed(item.name, result.extension),
                                     action="item.anonymised" if config.get("blur_faces") else "item.content_replaced",
                                     metadata=audit)
            else:
                metadata = {**(item.metadata or {}), "derived_from": {
                    "item_id": item.pk, "pipeline_id": run.pipeline_id, "run_id": run.pk, "node_id": ctx.node["id"]}}
                new = item_derive(org=ctx.org, actor=ctx.actor, source=item, data=result.data, mime=result.mime,
                                  width=result.width, height=result.height, name=_renamed(item.name, result.extension),
                                  folder=config["folder"], metadata=metadata, audit=audit)
                summary.update(source_item_id=item.pk, derived_item_id=new.pk)
                output["next_item_id"] = new.pk  # the next nodes work on the new item (pipeline_engine._advance)
        except (ConflictError, PermissionDenied) as exc:
            outcome.errors[item.pk] = str(exc) or type(exc).__name__
            continue
        changed += 1
        outcome.outputs[item.pk] = output
    outcome.log = f"{changed} of {len(rows)} images {'replaced' if config['mode'] == 'replace' else 'derived'}" + \
                  (f"; {faces} faces {PAST[config['blur_faces']]}" if config.get("blur_faces") else "")
    return outcome


# --- the filter node's post-process ----------------------------------------------------------------------------


def suggestions_nms(ctx: NodeContext, item_id: int, suggestions: list[dict], iou_threshold: float) -> list[dict]:
    """Class-aware NMS (runtime.decoders.batched_nms) over the item's box suggestions: of boxes with the same label
    overlapping above `iou_threshold`, the most confident is kept; the others, still proposed, are deleted. Other
    suggestions (shapes, classes) pass untouched."""
    import numpy as np

    from apps.annotations.models import Annotation
    from apps.annotations.services import annotations_change
    from apps.datasets.selectors import item_get

    from .runtime.decoders import batched_nms

    rows = {a["id"]: a for a in Annotation.objects.for_org(ctx.org).filter(
        item_id=item_id, pk__in=[s["id"] for s in suggestions if s.get("type") == "bbox"], type="bbox")
        .values("id", "geometry", "label", "version", "source", "review_state")}
    boxes = [s for s in suggestions if s.get("id") in rows and isinstance(rows[s["id"]]["geometry"], dict)]
    if len(boxes) < 2:
        return suggestions
    xyxy = np.array([[g.get("x", 0), g.get("y", 0), g.get("x", 0) + g.get("w", 0), g.get("y", 0) + g.get("h", 0)]
                     for g in (rows[s["id"]]["geometry"] for s in boxes)], dtype=np.float64)
    scores = np.array([s.get("confidence") or 0.0 for s in boxes], dtype=np.float64)
    labels = {label: i for i, label in enumerate(sorted({str(s.get("label")) for s in boxes}))}
    classes = np.array([labels[str(s.get("label"))] for s in boxes])
    kept = {boxes[i]["id"] for i in batched_nms(xyxy, scores, classes, iou_threshold)}
    dropped = [rows[s["id"]] for s in boxes if s["id"] not in kept]
    stale = [{"id": a["id"], "version": a["version"]} for a in dropped
             if a["source"] == "model" and a["review_state"] == "proposed"]
    item = item_get(org_id=ctx.org.pk, item_id=item_id)
    if stale and item is not None:
        annotations_change(org=ctx.org, actor=ctx.actor, item=item, delete=stale)
    gone = {a["id"] for a in dropped}
    return [s for s in suggestions if s.get("id") not in gone]
