"""Annotation imports: a COCO, YOLO, VOC or native file applied to a dataset all or nothing, in the background.

- `annotation_import_start` checks the scope, the format and the file's outer shape (size, zip or JSON), stores it
  encrypted (blob_put), records the job and "annotation_import.created", and queues `tasks.run_annotation_import`.
- `annotation_import_run` (the worker) parses the file with the format's reader, matches every image it names to
  an item of the dataset by file name (the item's path from the dataset root, or its name alone where that is
  unique; YOLO label files by name without extension), and checks every annotation with
  validation.validate_annotation against the dataset's current recipe version: the same rules as the API's write
  path, so a label the recipe does not have is an error, never created. Any error anywhere writes nothing: the job
  is "rejected" with a report (reference + message per row, the first MAX_REPORTED_ERRORS kept, all counted).
  Otherwise every annotation is created in one transaction, each with its "created" revision, source "import"
  (unless a native file says otherwise), and one "annotations.imported" audit event: the bulk form of
  services.annotations_change's rules, including the per-item cap.
- `error_report_csv` writes the report as CSV with formula-like cells neutralised.
"""

import csv
import io
import json
import logging
import posixpath

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Func, Value
from django.utils import timezone

from apps.compliance.services import audit_record
from apps.core.events import broadcast_on_commit
from apps.core.ids import parse_id
from apps.core.outbox import enqueue
from apps.core.spreadsheets import neutralise
from apps.datasets.models import Item
from apps.recipes.selectors import dataset_recipe_version
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope, require_scope

from .exports import claim_job
from .formats import READERS, FormatError
from .formats.yolo import to_pixels
from .models import Annotation, AnnotationImportJob, AnnotationRevision
from .selectors import SNAPSHOT_FIELDS, snapshot
from .services import MAX_ANNOTATIONS_PER_ITEM_FRAME
from .validation import AnnotationInputError, SpecIndex, validate_annotation

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 1024**3
MAX_REPORTED_ERRORS = 1_000
MATCH_BATCH = 5_000
WRITE_BATCH = 5_000
TOPIC = "annotation-imports"
ZIP_FORMATS = ("yolo", "voc")
FORMATS = ("coco", "yolo", "yolo_seg", "voc", "native")
# Attributes other tools write for their own bookkeeping; dropped unless the recipe defines them.
BOOKKEEPING_ATTRIBUTES = frozenset({"occluded", "is_crowd", "rotation", "track_id", "keyframe", "z_order", "score",
                                    "truncated", "difficult", "pose"})


# --- Reads --------------------------------------------------------------------------------------


def annotation_import_list(*, dataset):
    return (AnnotationImportJob.objects.for_org(dataset.organization_id).filter(dataset=dataset)
            .order_by("-created_at", "-id"))


def annotation_import_get(*, org_id: int, job_id: int) -> AnnotationImportJob | None:
    return (AnnotationImportJob.objects.for_org(org_id).select_related("organization", "dataset", "upload")
            .filter(pk=job_id).first())


def access_annotation_import(*, org, actor, job_id, scope: str = "annotation.change") -> AnnotationImportJob:
    pk = parse_id(job_id)
    job = (AnnotationImportJob.objects.for_org(org).select_related("dataset").filter(pk=pk).first()
           if pk else None)
    if job is None or not has_scope(org=org, actor=actor, scope=scope, obj=job.dataset):
        deny_not_found(org=org, actor=actor, target_type="annotations.annotationimportjob", target_id=job_id,
                       scope=scope)
    return job


# --- Start --------------------------------------------------------------------------------------


def job_data(job: AnnotationImportJob) -> dict:
    return {
        "id": job.pk, "dataset": job.dataset_id, "format": job.format, "status": job.status,
        "rows_total": job.rows_total, "items_matched": job.items_matched,
        "annotations_created": job.annotations_created, "errors_total": job.errors_total, "message": job.message,
    }


def _broadcast(job: AnnotationImportJob) -> None:
    broadcast_on_commit(org=job.organization_id, topic=TOPIC, event="annotation_import.progress", data=job_data(job))


def _safe_filename(raw) -> str:
    name = posixpath.basename(str(raw or "").replace("\\", "/")).strip()
    return "".join(c for c in name if c.isprintable())[:255] or "upload"


def annotation_import_start(*, org, actor, dataset, upload, format: str) -> AnnotationImportJob:
    from apps.storage.services import blob_put

    require_scope(org=org, actor=actor, scope="annotation.change", obj=dataset)
    if format not in FORMATS:
        raise ValidationError({"format": f"Choose one of {', '.join(FORMATS)}."})
    format = "yolo" if format == "yolo_seg" else format  # one reader: each line says which it is
    if upload is None:
        raise ValidationError({"file": "Attach the annotation file as 'file'."})
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError({"file": f"The file is larger than {MAX_UPLOAD_BYTES // 1024**2} MB."})
    head = upload.read(4)
    upload.seek(0)
    zipped = head[:2] == b"PK"
    if format in ZIP_FORMATS and not zipped:
        raise ValidationError({"file": f"A {format.upper()} import is a zip archive of its files."})
    if not zipped and head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b""):
        raise ValidationError({"file": "Send the JSON file (or a zip holding it)."})
    if dataset_recipe_version(org=org, dataset=dataset) is None:
        raise ValidationError({"dataset": "This dataset has no published recipe: imported labels are checked "
                                          "against it. Publish and link a recipe first."})
    filename = _safe_filename(upload.name)
    blob = blob_put(org=org, stream=upload, mime="application/zip" if zipped else "application/json",
                    max_bytes=MAX_UPLOAD_BYTES)
    with transaction.atomic():
        job = AnnotationImportJob.objects.create(
            organization_id=org.pk, dataset=dataset, format=format, filename=filename, upload=blob, created_by=actor,
        )
        audit_record(org=org, actor=actor, action="annotation_import.created", target=job,
                     metadata={"dataset_id": dataset.pk, "format": format, "file": filename, "bytes": blob.size})
        from .tasks import run_annotation_import

        enqueue(run_annotation_import, org.pk, job.pk)
        _broadcast(job)
    return job


# --- Run ----------------------------------------------------------------------------------------


class _Report:
    def __init__(self) -> None:
        self.errors: list[dict] = []
        self.total = 0

    def add(self, reference: str, message: str) -> None:
        self.total += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"reference": str(reference)[:500], "message": str(message)[:1000]})


def _stems(queryset):
    return queryset.annotate(stem=Func(F("name"), Value(r"\.[^.]*$"), Value(""), function="regexp_replace"))


def _match_items(job: AnnotationImportJob, parsed) -> tuple[dict, dict]:
    """{(image key, by_stem): Item} and {(image key, by_stem): why it matches no single item}."""
    wanted = {(row.image, row.by_stem) for row in parsed.rows}
    base = Item.objects.for_org(job.organization_id).filter(dataset_id=job.dataset_id).only(
        "id", "name", "folder", "width", "height", "dataset_id", "organization_id")
    candidates: dict[tuple[str, bool], list[Item]] = {}
    for by_stem in (False, True):
        names = sorted({posixpath.basename(key) for key, stemmed in wanted if stemmed is by_stem})
        for start in range(0, len(names), MATCH_BATCH):
            chunk = names[start:start + MATCH_BATCH]
            rows = _stems(base).filter(stem__in=chunk) if by_stem else base.filter(name__in=chunk)
            for item in rows:
                name = item.stem if by_stem else item.name
                candidates.setdefault((name, by_stem), []).append(item)
    matched, unmatched = {}, {}
    for key, by_stem in wanted:
        folder, name = posixpath.split(key)
        found = candidates.get((name, by_stem), [])
        exact = [i for i in found if i.folder == "/" + folder.strip("/")] if folder else []
        what = "no extension" if by_stem else "this name"
        if len(exact) == 1:
            matched[key, by_stem] = exact[0]
        elif len(found) == 1:
            matched[key, by_stem] = found[0]
        elif not found:
            unmatched[key, by_stem] = f"No item of this dataset is named {name!r}" + (
                " (with any extension)." if by_stem else ".")
        else:
            unmatched[key, by_stem] = (f"{len(found)} items of this dataset have {what} ({name!r}): name the image "
                                       f"with its folder path to choose one.")
    return matched, unmatched


def _typed(attribute: dict, text: str):
    """A text attribute value (VOC) as the recipe's attribute type wants it; unchanged where it does not parse."""
    kind = attribute.get("type")
    if kind == "boolean":
        return {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower(), text)
    if kind == "number":
        try:
            value = float(text)
        except ValueError:
            return text
        return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    if kind == "multi_enum":
        try:
            value = json.loads(text)
        except ValueError:
            return [v.strip() for v in text.split(",") if v.strip()]
        return value
    return text


def _prepare(row, item: Item, spec: SpecIndex) -> dict:
    """The reader's annotation made ready for validate_annotation (format-specific markers resolved)."""
    raw = dict(row.annotation)
    relative = raw.pop("_relative", False)
    text_attributes = raw.pop("_text_attributes", False)
    keypoint_names = raw.pop("_keypoint_names", None)
    label = spec.labels.get(raw.get("label")) if isinstance(raw.get("label"), str) else None
    if relative:
        if not item.width or not item.height:
            raise AnnotationInputError({"geometry": "The item has no known size: YOLO coordinates are relative to "
                                                    "it, so they cannot be placed."})
        raw = to_pixels(raw, item.width, item.height)
    if label is not None and isinstance(raw.get("attributes"), dict):
        allowed = spec.attributes_for(label, raw.get("type"))
        attributes = {k: v for k, v in raw["attributes"].items() if k in allowed or k not in BOOKKEEPING_ATTRIBUTES}
        if text_attributes:
            attributes = {k: _typed(allowed[k], v) if k in allowed and isinstance(v, str) else v
                          for k, v in attributes.items()}
        raw["attributes"] = attributes
    if keypoint_names is not None and label is not None and label.get("skeleton"):
        expected = label["skeleton"]["points"]
        if keypoint_names != expected:
            raise AnnotationInputError({"geometry.points": f"The file's keypoints {keypoint_names[:20]} are not the "
                                                           f"skeleton of {label['name']!r}: {expected}."})
    return raw


def _words(errors: dict) -> str:
    return "; ".join(f"{path}: {message}" for path, message in errors.items())


def annotation_import_run(*, job: AnnotationImportJob) -> None:
    """The worker's part; see the module docstring. Safe to call again: only a claimable job runs."""
    if not claim_job(AnnotationImportJob, org_id=job.organization_id, job_id=job.pk):
        return
    job.refresh_from_db()
    try:
        _run(job)
    except Exception as exc:
        logger.exception("Annotation import %s failed", job.pk)
        _finish(job, AnnotationImportJob.Status.FAILED, f"The import stopped: {str(exc)[:500] or type(exc).__name__}")


def _finish(job: AnnotationImportJob, status: str, message: str, report: _Report | None = None) -> None:
    with transaction.atomic():
        job.status, job.finished_at, job.message = status, timezone.now(), message[:2000]
        fields = ["status", "finished_at", "message", "rows_total", "items_matched", "annotations_created"]
        if report is not None:
            job.errors, job.errors_total = report.errors, report.total
            fields += ["errors", "errors_total"]
        job.save(update_fields=fields)
        if status != AnnotationImportJob.Status.DONE:
            audit_record(org=job.organization_id, actor=None, action=f"annotation_import.{status}", target=job,
                         metadata={"errors": job.errors_total, "message": job.message[:500]})
        _broadcast(job)


def _actor(job: AnnotationImportJob):
    from apps.datasets.selectors import member_user_get

    user = member_user_get(org_id=job.organization_id, user_id=job.created_by_id)
    if user is None or not has_scope(org=job.organization, actor=user, scope="annotation.change", obj=job.dataset):
        return None
    return user


def _run(job: AnnotationImportJob) -> None:
    from apps.storage.services import blob_open

    actor = _actor(job)
    if actor is None:
        _finish(job, AnnotationImportJob.Status.REJECTED,
                "The person who started the import may no longer change this dataset's annotations.")
        return
    version = dataset_recipe_version(org=job.organization_id, dataset=job.dataset)
    if version is None:
        _finish(job, AnnotationImportJob.Status.REJECTED, "This dataset has no published recipe any more.")
        return
    spec = SpecIndex(version.spec)
    try:
        with blob_open(job.upload) as stream:
            parsed = READERS[job.format](stream, job.filename)
    except FormatError as exc:
        _finish(job, AnnotationImportJob.Status.REJECTED, f"The file cannot be read: {exc}")
        return
    report = _Report()
    for reference, message in parsed.errors:
        report.add(reference, message)
    matched, unmatched = _match_items(job, parsed)
    job.rows_total = len(parsed.rows) + len(parsed.errors)
    job.items_matched = len({item.pk for item in matched.values()})
    AnnotationImportJob.objects.for_org(job.organization_id).filter(pk=job.pk).update(
        rows_total=job.rows_total, items_matched=job.items_matched, heartbeat_at=timezone.now())
    _broadcast(job)

    clean_rows = []
    per_item: dict[int, int] = {}
    for row in parsed.rows:
        item = matched.get((row.image, row.by_stem))
        if item is None:
            report.add(row.reference, unmatched[row.image, row.by_stem])
            continue
        try:
            clean = validate_annotation(_prepare(row, item, spec), item=item, spec=spec)
        except AnnotationInputError as exc:
            report.add(row.reference, _words(exc.field_errors))
            continue
        except (TypeError, ValueError, KeyError) as exc:  # a shape no check foresaw: still this row's error
            report.add(row.reference, f"This annotation cannot be read ({type(exc).__name__}: {str(exc)[:200]}).")
            continue
        clean_rows.append((item, clean))
        per_item[item.pk] = per_item.get(item.pk, 0) + 1
    existing = dict(Annotation.objects.for_org(job.organization_id).filter(item_id__in=list(per_item))
                    .order_by().values("item_id").annotate(n=Count("id")).values_list("item_id", "n"))
    for item_id, count in per_item.items():
        if existing.get(item_id, 0) + count > MAX_ANNOTATIONS_PER_ITEM_FRAME:
            report.add(f"item {item_id}", f"An item holds at most {MAX_ANNOTATIONS_PER_ITEM_FRAME} annotations; "
                                          f"this import would give it {existing.get(item_id, 0) + count}.")
    if report.total:
        _finish(job, AnnotationImportJob.Status.REJECTED,
                f"Nothing was imported: {report.total} error(s). Fix them and import the file again.", report)
        return
    _write(job, actor=actor, version=version, rows=clean_rows, report=report)


def _write(job: AnnotationImportJob, *, actor, version, rows, report: _Report) -> None:
    now = timezone.now()
    with transaction.atomic():
        created = 0
        for start in range(0, len(rows), WRITE_BATCH):
            annotations = Annotation.objects.bulk_create([
                Annotation(organization_id=job.organization_id, item_id=item.pk, dataset_id=job.dataset_id,
                           recipe_version=version, created_by=actor, updated_by=actor, created_at=now, updated_at=now,
                           **clean)
                for item, clean in rows[start:start + WRITE_BATCH]
            ])
            AnnotationRevision.objects.bulk_create([
                AnnotationRevision(organization_id=job.organization_id, item_id=a.item_id, annotation_id=a.pk,
                                   version=a.version, action=AnnotationRevision.Action.CREATED, data=snapshot(a),
                                   changed=list(SNAPSHOT_FIELDS), actor=actor, at=now)
                for a in annotations
            ])
            created += len(annotations)
        job.annotations_created = created
        audit_record(org=job.organization_id, actor=actor, action="annotations.imported", target=job,
                     metadata={"dataset_id": job.dataset_id, "format": job.format, "created": created,
                               "items": job.items_matched, "recipe_version_id": version.pk})
        _finish(job, AnnotationImportJob.Status.DONE,
                f"Imported {created} annotation(s) on {job.items_matched} item(s).", report)


# --- The error report as CSV ----------------------------------------------------------------------

def error_report_csv(job: AnnotationImportJob) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["reference", "message"])
    for error in job.errors:
        writer.writerow([neutralise(error.get("reference", "")), neutralise(error.get("message", ""))])
    if job.errors_total > len(job.errors):
        writer.writerow([neutralise(f"... {job.errors_total - len(job.errors)} more"), "not kept in the report"])
    return out.getvalue()
