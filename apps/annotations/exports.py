"""Exports: a dataset's annotations, chosen by a query-language filter, written by a background job to an encrypted
blob in the organisation's region, then downloaded through the app (audited).

- `export_create` checks the scope and the filter (a bad filter is a 400 naming its path), records the job and the
  audit event "export.created" and queues `tasks.run_export` through the outbox, all in one transaction.
- `export_run` is the worker's part. It reads items in keyset batches (id order, ITEM_BATCH at a time) and each
  batch's annotations in one query, hands them to the format's streaming writer (apps/annotations/formats) and
  writes the zip to a temporary file, so memory is flat in the size of the dataset. Progress is saved and
  broadcast (topic "exports") as it goes, then the file goes to storage with blob_put.
- A job is claimed by a conditional UPDATE (queued -> running) that commits at once, so a redelivered message
  does nothing and progress is visible while the job runs; a job whose worker died (no heartbeat for STALE_AFTER)
  can be claimed again. This is why these actors do not use @idempotent: its one long transaction would hide the
  progress until the end.
- `export_download` serves the finished file through serve_blob (attachment, nosniff) and records
  "export.downloaded".
- `export_withdraw` (erasure, GDPR art. 17): an export whose file held erased data is marked withdrawn (when, why,
  by which request), its file is deleted, and its download answers 410 Gone from then on ("export.withdrawn").
"""

import json
import logging
import tempfile
import time
import zipfile
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from apps.compliance.services import audit_record
from apps.core.events import broadcast_on_commit
from apps.core.ids import parse_id
from apps.core.outbox import enqueue
from apps.datasets.selectors import item_filter
from apps.recipes.models import RecipeVersion
from apps.recipes.selectors import dataset_recipe_version
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope, require_scope

from .formats import WRITERS, Category, ExportAnnotation, ExportCounts, ExportItem
from .formats.common import categories_from_specs
from .models import Annotation, AnnotationRevision, ExportFormat, ExportJob

logger = logging.getLogger(__name__)

ITEM_BATCH = 2_000
STALE_AFTER = timedelta(minutes=10)
PROGRESS_EVERY_SECONDS = 1.0
ZIP_LEVEL = 1  # deflate level: JSON and text compress ~10x already at 1; higher levels cost time, little size
TOPIC = "exports"


# --- Reads --------------------------------------------------------------------------------------


def export_job_list(*, dataset):
    return ExportJob.objects.for_org(dataset.organization_id).filter(dataset=dataset).order_by("-created_at", "-id")


def export_job_get(*, org_id: int, job_id: int) -> ExportJob | None:
    return (ExportJob.objects.for_org(org_id).select_related("organization", "dataset", "result")
            .filter(pk=job_id).first())


def access_export_job(*, org, actor, job_id, scope: str = "annotation.export") -> ExportJob:
    pk = parse_id(job_id)
    job = ExportJob.objects.for_org(org).select_related("dataset", "result").filter(pk=pk).first() if pk else None
    if job is None or not has_scope(org=org, actor=actor, scope=scope, obj=job.dataset):
        deny_not_found(org=org, actor=actor, target_type="annotations.exportjob", target_id=job_id, scope=scope)
    return job


# --- Claiming a job (shared with imports) -------------------------------------------------------------


def claim_job(model, *, org_id: int, job_id: int) -> bool:
    """Moves a queued job (or a running one whose worker stopped beating) to running; False if another worker has
    it or it is finished. Commits at once when called outside a transaction, as the worker does."""
    now = timezone.now()
    claimable = Q(status="queued") | Q(status="running", heartbeat_at__lt=now - STALE_AFTER)
    return bool(model.objects.for_org(org_id).filter(claimable, pk=job_id).update(
        status="running", started_at=now, heartbeat_at=now))


# --- Create -------------------------------------------------------------------------------------


def job_data(job: ExportJob) -> dict:
    return {
        "id": job.pk, "dataset": job.dataset_id, "format": job.format, "status": job.status,
        "items_total": job.items_total, "items_done": job.items_done, "annotations_done": job.annotations_done,
        "annotations_skipped": job.annotations_skipped, "error": job.error,
    }


def _broadcast(job: ExportJob) -> None:
    broadcast_on_commit(org=job.organization_id, topic=TOPIC, event="export.progress", data=job_data(job))


def _check_region(org, region: str) -> str:
    """'' for the organisation's own region; another region only while a transfer basis allows copies there (the
    write itself is checked and audited again by storage when the file is stored)."""
    from django.conf import settings

    from apps.compliance.transfers import active_transfer_basis

    if not region or region == org.region:
        return ""
    if region not in settings.REGIONS:
        raise ValidationError({"region": f"Unknown region {region!r}; configured regions are: "
                                         f"{', '.join(settings.REGIONS)}."})
    if active_transfer_basis(org=org, region=region) is None:
        raise ValidationError({"region": f"No current legal basis for copies in region {region!r}: the organisation's "
                                         f"data stays in {org.region!r}. A compliance officer records one on the "
                                         "residency page."})
    return region


def export_create(*, org, actor, dataset, format: str, filter: dict | None = None,
                  include_revisions: bool = False, region: str = "") -> ExportJob:
    require_scope(org=org, actor=actor, scope="annotation.export", obj=dataset)
    if format not in ExportFormat.values:
        raise ValidationError({"format": f"Choose one of {', '.join(ExportFormat.values)}."})
    if filter is None:
        filter = {}
    if not isinstance(filter, dict):
        raise ValidationError({"filter": "A filter is a query-language object, e.g. {\"metadata.camera\": \"A\"}."})
    item_filter(dataset=dataset, filter=filter)  # compiles the filter: a bad one is a 400 naming its path
    if include_revisions and format != ExportFormat.NATIVE:
        raise ValidationError({"include_revisions": "Revisions go only into the native format."})
    region = _check_region(org, region)
    with transaction.atomic():
        job = ExportJob.objects.create(
            organization_id=org.pk, dataset=dataset, format=format, filter=filter,
            include_revisions=include_revisions, region=region, created_by=actor,
        )
        audit_record(org=org, actor=actor, action="export.created", target=job,
                     metadata={"dataset_id": dataset.pk, "format": format, "filter": filter,
                               "include_revisions": include_revisions, "region": region or org.region})
        from .tasks import run_export

        enqueue(run_export, org.pk, job.pk)
        _broadcast(job)
    return job


# --- Run ----------------------------------------------------------------------------------------


def _categories(job: ExportJob) -> list[Category]:
    """The dataset's current recipe version's labels first, then labels only older pinned versions have."""
    current = dataset_recipe_version(org=job.organization_id, dataset=job.dataset)
    pinned = set(Annotation.objects.for_org(job.organization_id).filter(dataset_id=job.dataset_id)
                 .order_by().values_list("recipe_version_id", flat=True).distinct())
    versions = {v.pk: v for v in RecipeVersion.objects.for_org(job.organization_id).filter(pk__in=pinned)}
    ordered = ([current] if current else []) + [versions[pk] for pk in sorted(versions, reverse=True)
                                                 if not current or pk != current.pk]
    return categories_from_specs(v.spec for v in ordered)


ITEM_FIELDS = ("id", "name", "folder", "width", "height", "kind")
ANNOTATION_FIELDS = ("item_id", "id", "type", "label", "attributes", "geometry", "z_order", "frame", "source",
                     "confidence", "review_state", "version", "recipe_version_id")


def _item_batches(job: ExportJob, *, with_metadata: bool):
    queryset = item_filter(dataset=job.dataset, filter=job.filter)
    fields = (*ITEM_FIELDS, "metadata") if with_metadata else ITEM_FIELDS
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk").values_list(*fields)[:ITEM_BATCH])
        if not rows:
            return
        yield [ExportItem(*row) for row in rows]
        last = rows[-1][0]


def _annotations_by_item(job: ExportJob, item_ids: list[int], *, native: bool, skip_proposed: bool,
                         raw_attributes: bool) -> dict:
    """One query for a batch's annotations. JSON columns come as text and only geometry is decoded here (with the
    C decoder, not per-field ORM converters): writers that copy attributes through take them as JSON text."""
    queryset = Annotation.objects.for_org(job.organization_id).filter(dataset_id=job.dataset_id,
                                                                      item_id__in=item_ids)
    if skip_proposed:
        queryset = queryset.exclude(review_state="proposed")
    queryset = queryset.annotate(attributes_text=Cast("attributes", TextField()),
                                 geometry_text=Cast("geometry", TextField()))
    fields = [*ANNOTATION_FIELDS]
    fields[fields.index("attributes")], fields[fields.index("geometry")] = "attributes_text", "geometry_text"
    if native:
        fields += ["created_at", "updated_at"]
    loads = json.loads
    out: dict[int, list] = {}
    for row in queryset.order_by("item_id", "frame", "z_order", "id").values_list(*fields):
        item_id, pk, kind, label, attributes, geometry, *rest = row
        if native:
            rest[-2], rest[-1] = rest[-2].isoformat(), rest[-1].isoformat()
        annotation = ExportAnnotation(pk, kind, label, attributes if raw_attributes else loads(attributes),
                                      loads(geometry) if geometry is not None else None, *rest)
        group = out.get(item_id)
        if group is None:
            out[item_id] = [annotation]
        else:
            group.append(annotation)
    return out


def _revisions_by_item(job: ExportJob, item_ids: list[int]) -> dict[int, list]:
    out: dict[int, list] = {}
    rows = (AnnotationRevision.objects.for_org(job.organization_id).filter(item_id__in=item_ids)
            .order_by("item_id", "annotation_id", "version")
            .values_list("item_id", "annotation_id", "version", "action", "changed", "data", "actor_id", "at"))
    for item_id, annotation_id, version, action, changed, data, actor_id, at in rows:
        out.setdefault(item_id, []).append({
            "annotation_id": annotation_id, "version": version, "action": action, "changed": changed, "data": data,
            "actor_id": actor_id, "at": at.isoformat(),
        })
    return out


def _progress(job: ExportJob, **fields) -> None:
    fields["heartbeat_at"] = timezone.now()
    ExportJob.objects.for_org(job.organization_id).filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)
    _broadcast(job)


def export_run(*, job: ExportJob) -> None:
    """The worker's part; see the module docstring. Safe to call again: only a claimable job runs."""
    if not claim_job(ExportJob, org_id=job.organization_id, job_id=job.pk):
        return
    job.refresh_from_db()
    try:
        blob, counts = _write(job)
    except Exception as exc:
        logger.exception("Export %s failed", job.pk)
        with transaction.atomic():
            job.status, job.finished_at = ExportJob.Status.FAILED, timezone.now()
            job.error = f"The export stopped: {str(exc)[:500] or type(exc).__name__}"
            job.save(update_fields=["status", "finished_at", "error"])
            audit_record(org=job.organization_id, actor=None, action="export.failed", target=job,
                         metadata={"error": job.error})
            _broadcast(job)
        return
    with transaction.atomic():
        job.status, job.finished_at, job.result = ExportJob.Status.DONE, timezone.now(), blob
        job.items_done, job.annotations_done = counts.items, counts.annotations
        job.skipped, job.annotations_skipped = counts.skipped, sum(counts.skipped.values())
        job.save(update_fields=["status", "finished_at", "result", "items_done", "annotations_done", "skipped",
                                "annotations_skipped"])
        audit_record(org=job.organization_id, actor=None, action="export.finished", target=job,
                     metadata={"items": counts.items, "annotations": counts.annotations, "bytes": blob.size,
                               "skipped": counts.skipped})
        _broadcast(job)


def export_write(job: ExportJob, out) -> ExportCounts:
    """Writes the job's file into the binary file `out`; returns the counts. Progress goes to the job row."""
    native = job.format == ExportFormat.NATIVE
    writer_class = WRITERS[job.format]
    total = item_filter(dataset=job.dataset, filter=job.filter).count()
    _progress(job, items_total=total, items_done=0, annotations_done=0)
    last_report = time.monotonic()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as archive:
        writer = writer_class(archive, categories=_categories(job), dataset_name=job.dataset.name,
                              include_revisions=job.include_revisions)
        for items in _item_batches(job, with_metadata=native):
            ids = [item.id for item in items]
            annotations = _annotations_by_item(job, ids, native=native, skip_proposed=writer.skips_proposed,
                                               raw_attributes=writer.raw_attributes)
            revisions = _revisions_by_item(job, ids) if job.include_revisions else {}
            for item in items:
                writer.add(item, annotations.get(item.id, []), revisions.get(item.id))
            if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
                _progress(job, items_done=writer.counts.items, annotations_done=writer.counts.annotations,
                          annotations_skipped=sum(writer.counts.skipped.values()))
                last_report = time.monotonic()
        return writer.close()


def _write(job: ExportJob):
    from apps.storage.services import blob_put

    with tempfile.TemporaryFile() as out:
        counts = export_write(job, out)
        out.seek(0)
        blob = blob_put(org=job.organization_id, stream=out, mime="application/zip", region=job.region or None)
    return blob, counts


# --- Download -----------------------------------------------------------------------------------


def export_filename(job: ExportJob) -> str:
    return f"{job.dataset.name}-{job.format}-{job.pk}.zip"


def export_download(request, *, org, actor, job: ExportJob):
    """The finished file, streamed (Range supported); 409 while it is not ready. Recorded as export.downloaded."""
    from apps.core.errors import ConflictError, GoneError
    from apps.storage.http import serve_blob

    if job.withdrawn_at is not None:
        raise GoneError(f"This export was withdrawn on {job.withdrawn_at:%Y-%m-%d}: {job.withdrawn_reason} "
                        "Its file was deleted; make a new export.")
    if job.status != ExportJob.Status.DONE or job.result_id is None:
        raise ConflictError(f"This export is {job.get_status_display().lower()}: there is no file to download yet.",
                            [])
    if request.method != "HEAD":
        audit_record(org=org, actor=actor, action="export.downloaded", target=job,
                     metadata={"dataset_id": job.dataset_id, "format": job.format, "bytes": job.result.size,
                               "range": request.META.get("HTTP_RANGE", "")[:100]})
    return serve_blob(request, job.result, filename=export_filename(job), inline=False)


# --- Withdrawal ---------------------------------------------------------------------------------


def export_withdraw(*, job: ExportJob, reason: str, by_request=None) -> bool:
    """Marks a finished export withdrawn and deletes its file (the ciphertext once the caller's transaction commits).
    Returns False when it was already withdrawn. The system does it (an erasure), so the actor is None."""
    from apps.storage.services import blob_delete

    with transaction.atomic():
        job = ExportJob.objects.for_org(job.organization_id).select_for_update().get(pk=job.pk)
        if job.withdrawn_at is not None:
            return False
        blob = job.result
        job.withdrawn_at, job.withdrawn_reason, job.withdrawn_by_request = timezone.now(), reason[:2000], by_request
        job.result = None
        job.save(update_fields=["withdrawn_at", "withdrawn_reason", "withdrawn_by_request", "result"])
        blob_delete(blob)
        audit_record(org=job.organization_id, actor=None, action="export.withdrawn", target=job,
                     metadata={"dataset_id": job.dataset_id, "reason": job.withdrawn_reason,
                               "request_id": getattr(by_request, "pk", None)})
    return True
