"""Getting items in: uploads, URL lists, manifests and zip archives, every path hostile until checked.

Small uploads are handled in the request; URL lists, manifests and archives become an ImportJob run
by the worker, with live progress and a per-row error report. The checks themselves (type sniffing,
decompression bombs, zip bombs and zip-slip, SSRF-safe fetching, manifest parsing) live in
apps/storage/intake; this module applies them to datasets and items.
"""

import logging
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.compliance.services import audit_record
from apps.core.events import broadcast_on_commit
from apps.core.outbox import enqueue
from apps.storage.intake import kind_from_filename
from apps.tenancy.permissions import require_scope

from .item_hooks import items_added
from .metadata import normalise_folder
from .models import ImportJob, ImportRowError, Item

logger = logging.getLogger(__name__)

MAX_FILES_PER_REQUEST = 100
MAX_ROW_ERRORS = 10_000
FETCH_BATCH = 25


def max_item_bytes() -> int:
    return getattr(settings, "DLSAAS_MAX_ITEM_BYTES", 2 * 1024**3)


def max_import_bytes() -> int:
    return getattr(settings, "DLSAAS_MAX_IMPORT_BYTES", 5 * 1024**3)


def _kind(value: str | None, *, field: str = "kind") -> str | None:
    if value in (None, ""):
        return None
    if value not in Item.Kind.values:
        raise ValidationError({field: f"Unknown kind {value!r}; choose one of {', '.join(Item.Kind.values)}."})
    return value


# --- One item from a stream ---------------------------------------------------------------------


def _inspect(stream, *, filename: str, declared_kind: str | None):
    """Sniffs the real type, checks it against the declared kind and reads the media facts."""
    from apps.storage.intake import check_declared, media_facts, sniff

    head = stream.read(8192)
    stream.seek(0)
    sniffed = sniff(head, filename=filename)
    kind = check_declared(sniffed, declared_kind or kind_from_filename(filename))
    facts = media_facts(stream, kind=kind, mime=sniffed.mime)
    stream.seek(0)
    return kind, sniffed.mime, facts


def _store(*, org, stream, mime: str, item: Item | None = None):
    """The item's content, encrypted; under its data subject's key when its metadata names one already."""
    from apps.compliance.subject_keys import subject_key_for_item
    from apps.storage.services import blob_put

    subject_key = subject_key_for_item(item) if item is not None else None
    return blob_put(org=org, stream=stream, mime=mime, max_bytes=max_item_bytes(), subject_key=subject_key)


def _item_fields(*, blob, kind: str, mime: str, facts) -> dict:
    return {
        "kind": kind, "mime": mime, "size": blob.size, "sha256": blob.sha256, "blob": blob,
        "width": facts.width, "height": facts.height, "duration": facts.duration,
        "status": Item.Status.READY, "error": "",
    }


def _after_item_stored(item: Item) -> None:
    if item.kind == Item.Kind.IMAGE:
        from .tasks import make_item_thumbnail

        enqueue(make_item_thumbnail, item.organization_id, item.pk)


# --- Uploads in the request ---------------------------------------------------------------------


class _Checked(NamedTuple):
    upload: object
    name: str
    kind: str
    mime: str
    facts: object


def items_upload(*, org, actor, dataset, files, folder: str = "/", kind: str | None = None) -> list[Item]:
    """Stores uploaded files as items, all or nothing: one bad file refuses the request, naming it."""
    from apps.storage.intake import IntakeError
    from apps.storage.services import blob_delete

    require_scope(org=org, actor=actor, scope="item.change", obj=dataset)
    if not files:
        raise ValidationError({"files": "Attach at least one file."})
    if len(files) > MAX_FILES_PER_REQUEST:
        raise ValidationError({"files": f"At most {MAX_FILES_PER_REQUEST} files per request; use a zip archive."})
    folder = normalise_folder(folder)
    kind = _kind(kind)
    inspected = []
    for index, upload in enumerate(files):
        name = _safe_name(upload.name, field=f"files.{index}")
        if upload.size > max_item_bytes():
            raise ValidationError({f"files.{index}": f"{name} is larger than {max_item_bytes() // 1024**2} MB."})
        try:
            inspected.append(_Checked(upload, name, *_inspect(upload, filename=name, declared_kind=kind)))
        except IntakeError as exc:
            raise ValidationError({f"files.{index}": f"{name}: {exc}"}) from None
    blobs = []
    try:
        for checked in inspected:
            blobs.append(_store(org=org, stream=checked.upload, mime=checked.mime))
        with transaction.atomic():
            items = [
                Item.objects.create(
                    organization_id=org.pk, dataset=dataset, name=c.name, folder=folder, created_by=actor,
                    **_item_fields(blob=blob, kind=c.kind, mime=c.mime, facts=c.facts),
                )
                for c, blob in zip(inspected, blobs, strict=True)
            ]
            audit_record(org=org, actor=actor, action="items.uploaded", target=dataset,
                         metadata={"count": len(items), "item_ids": [i.pk for i in items], "folder": folder})
            for item in items:
                _after_item_stored(item)
            items_added(org_id=org.pk, dataset_id=dataset.pk, item_ids=[i.pk for i in items])
    except BaseException:
        for blob in blobs:
            blob_delete(blob)
        raise
    return items


def _safe_name(raw: str | None, *, field: str) -> str:
    import posixpath
    import unicodedata

    name = unicodedata.normalize("NFC", posixpath.basename((raw or "").replace("\\", "/"))).strip()
    if not name or name in (".", "..") or "\x00" in name or len(name) > 500:
        raise ValidationError({field: "Give the file a name of 1 to 500 characters."})
    return name


# --- Background imports -------------------------------------------------------------------------


def _job_data(job: ImportJob) -> dict:
    return {
        "id": job.pk, "dataset": job.dataset_id, "source": job.source, "status": job.status, "total": job.total,
        "processed": job.processed, "succeeded": job.succeeded, "failed": job.failed, "message": job.message,
    }


def _broadcast(job: ImportJob) -> None:
    broadcast_on_commit(org=job.organization_id, topic="imports", event="import.progress", data=_job_data(job))


def urls_import_start(*, org, actor, dataset, urls: list[str], folder: str = "/", kind: str | None = None) -> ImportJob:
    """Creates a pending item per URL and a job that fetches them in the background."""
    from .ingest import StagedRow, ingest_rows

    require_scope(org=org, actor=actor, scope="item.change", obj=dataset)
    folder = normalise_folder(folder)
    kind = _kind(kind)
    rows, errors = [], []
    for index, url in enumerate(urls):
        url = url.strip()
        name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1][:500] or "item"
        item_kind = kind or kind_from_filename(name)
        if not url.lower().startswith(("http://", "https://")):
            errors.append((index + 1, url, "only http and https URLs can be imported"))
        elif item_kind is None:
            errors.append((index + 1, url, "cannot tell the kind from the name: give 'kind'"))
        else:
            rows.append(StagedRow(name=name, folder=folder, kind=item_kind, metadata={}, source=url))
    if not rows:
        raise ValidationError({"urls": [f"line {n}: {message}" for n, _ref, message in errors[:20]]})
    with transaction.atomic():
        job = ImportJob.objects.create(
            organization_id=org.pk, dataset=dataset, source=ImportJob.Source.URLS, folder=folder,
            total=len(urls), created_by=actor, status=ImportJob.Status.RUNNING, started_at=timezone.now(),
        )
        ingest_rows(org_id=org.pk, dataset_id=dataset.pk, actor_id=actor.pk, rows=rows, import_job_id=job.pk)
        _record_errors(job, errors)
        audit_record(org=org, actor=actor, action="import.started", target=job,
                     metadata={"source": job.source, "dataset_id": dataset.pk, "urls": len(urls)})
        from .tasks import fetch_import_items

        enqueue(fetch_import_items, org.pk, job.pk)
        _broadcast(job)
    return job


def import_start(*, org, actor, dataset, upload, folder: str = "/") -> ImportJob:
    """A manifest (.csv, .jsonl) or a zip archive, stored encrypted, then processed by the worker."""
    from apps.storage.services import blob_put

    require_scope(org=org, actor=actor, scope="item.change", obj=dataset)
    if upload is None:
        raise ValidationError({"file": "Attach a manifest (.csv or .jsonl) or a zip archive as 'file'."})
    name = _safe_name(upload.name, field="file").lower()
    source = (ImportJob.Source.ZIP if name.endswith(".zip")
              else ImportJob.Source.MANIFEST if name.endswith((".csv", ".jsonl", ".ndjson")) else None)
    if source is None:
        raise ValidationError({"file": "Send a .csv or .jsonl manifest, or a .zip archive."})
    if upload.size > max_import_bytes():
        raise ValidationError({"file": f"The file is larger than {max_import_bytes() // 1024**2} MB."})
    head = upload.read(4)
    upload.seek(0)
    if source == ImportJob.Source.ZIP and head[:2] != b"PK":
        raise ValidationError({"file": "This file is named .zip but is not a zip archive."})
    folder = normalise_folder(folder)
    blob = blob_put(org=org, stream=upload, mime="application/zip" if source == "zip" else "text/plain",
                    max_bytes=max_import_bytes())
    with transaction.atomic():
        job = ImportJob.objects.create(
            organization_id=org.pk, dataset=dataset, source=source, folder=folder, upload=blob, created_by=actor,
            message=name[:200],
        )
        audit_record(org=org, actor=actor, action="import.started", target=job,
                     metadata={"source": source, "dataset_id": dataset.pk, "file": name[:200], "bytes": blob.size})
        from .tasks import run_import_job

        enqueue(run_import_job, org.pk, job.pk)
        _broadcast(job)
    return job


def _record_errors(job: ImportJob, errors) -> None:
    """errors: (row, reference, message) tuples; the report keeps the first MAX_ROW_ERRORS."""
    room = MAX_ROW_ERRORS - ImportRowError.objects.for_org(job.organization_id).filter(job=job).count()
    ImportRowError.objects.bulk_create([
        ImportRowError(organization_id=job.organization_id, job=job, row=row, reference=str(ref)[:1000],
                       message=str(message)[:1000])
        for row, ref, message in list(errors)[: max(room, 0)]
    ])
    if errors:
        _count(job, processed=len(errors), failed=len(errors))


def _count(job: ImportJob, **increments) -> None:
    ImportJob.objects.for_org(job.organization_id).filter(pk=job.pk).update(
        **{field: F(field) + value for field, value in increments.items()}
    )
    job.refresh_from_db(fields=["processed", "succeeded", "failed", "total"])


def _finish(job: ImportJob, *, status: str = ImportJob.Status.DONE, message: str | None = None) -> None:
    job.status = status
    job.finished_at = timezone.now()
    fields = ["status", "finished_at"]
    if message is not None:
        job.message = message[:2000]
        fields.append("message")
    job.save(update_fields=fields)
    audit_record(org=job.organization_id, actor=None, action=f"import.{'finished' if status == 'done' else 'failed'}",
                 target=job, metadata={"succeeded": job.succeeded, "failed": job.failed, "total": job.total})
    _broadcast(job)


def import_run(*, job: ImportJob) -> None:
    """The worker's part of a manifest or zip import. Safe to run again: a finished job is left alone."""
    if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
        return
    job.status, job.started_at = ImportJob.Status.RUNNING, job.started_at or timezone.now()
    job.save(update_fields=["status", "started_at"])
    try:
        if job.source == ImportJob.Source.MANIFEST:
            _run_manifest(job)
        else:
            _run_zip(job)
    except Exception as exc:
        from apps.storage.intake import IntakeError

        if not isinstance(exc, IntakeError | ValidationError):
            logger.exception("Import %s failed", job.pk)
        with transaction.atomic():
            _finish(job, status=ImportJob.Status.FAILED, message=f"The import stopped: {_words(exc)}")
        return


def _words(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or type(exc).__name__


def _run_manifest(job: ImportJob) -> None:
    from apps.storage.services import blob_open

    from .ingest import ingest_rows, manifest_staged_rows
    from .tasks import fetch_import_items

    errors = []

    def progress(total: int) -> None:
        ImportJob.objects.for_org(job.organization_id).filter(pk=job.pk).update(total=total + len(errors))
        job.total = total + len(errors)
        with transaction.atomic():
            _broadcast(job)

    with blob_open(job.upload) as stream:
        rows = manifest_staged_rows(stream, filename=job.message, default_folder=job.folder, errors=errors)
        inserted = ingest_rows(org_id=job.organization_id, dataset_id=job.dataset_id, actor_id=job.created_by_id,
                               rows=rows, import_job_id=job.pk, on_batch=progress)
    with transaction.atomic():
        ImportJob.objects.for_org(job.organization_id).filter(pk=job.pk).update(total=inserted + len(errors))
        job.refresh_from_db()
        _record_errors(job, errors)
        if inserted:
            enqueue(fetch_import_items, job.organization_id, job.pk)
            _broadcast(job)
        else:
            _finish(job, message="No row of the manifest could be imported; see the error report.")


def _run_zip(job: ImportJob) -> None:
    from apps.storage.intake import IntakeError, iter_zip
    from apps.storage.services import blob_open

    org = job.organization
    row = 0
    with blob_open(job.upload) as archive:
        for entry in iter_zip(archive):
            row += 1
            folder = normalise_folder(f"{job.folder}/{entry.folder}")
            try:
                _zip_entry_to_item(job, org=org, entry=entry, folder=folder)
            except (IntakeError, ValidationError) as exc:
                with transaction.atomic():
                    ImportJob.objects.for_org(org).filter(pk=job.pk).update(total=F("total") + 1)
                    _record_errors(job, [(row, entry.name, _words(exc))])
            if row % 20 == 0:
                with transaction.atomic():
                    _broadcast(job)
    with transaction.atomic():
        job.refresh_from_db()
        _finish(job)


def _zip_entry_to_item(job: ImportJob, *, org, entry, folder: str) -> None:
    import tempfile

    from apps.storage.services import blob_delete

    # The entry stream enforces the archive's caps while decompressing; spool it to sniff and seek.
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024**2) as spool:
        while chunk := entry.stream.read(1024 * 1024):
            spool.write(chunk)
        spool.seek(0)
        kind, mime, facts = _inspect(spool, filename=entry.name, declared_kind=None)
        blob = _store(org=org, stream=spool, mime=mime)
    try:
        with transaction.atomic():
            item = Item.objects.create(
                organization_id=org.pk, dataset_id=job.dataset_id, name=entry.name, folder=folder,
                created_by_id=job.created_by_id, **_item_fields(blob=blob, kind=kind, mime=mime, facts=facts),
            )
            ImportJob.objects.for_org(org).filter(pk=job.pk).update(
                total=F("total") + 1, processed=F("processed") + 1, succeeded=F("succeeded") + 1
            )
            _after_item_stored(item)
            items_added(org_id=org.pk, dataset_id=job.dataset_id, item_ids=[item.pk])
    except BaseException:
        blob_delete(blob)
        raise


def fetch_import_items(*, job: ImportJob) -> bool:
    """Fetches the content of a batch of the job's pending items. Returns True when more remain."""
    pending = list(
        Item.objects.for_org(job.organization_id).filter(import_job=job, status=Item.Status.PENDING)
        .order_by("id").values_list("id", flat=True)[:FETCH_BATCH]
    )
    for item_id in pending:
        _fetch_one(job, item_id)
    more = Item.objects.for_org(job.organization_id).filter(import_job=job, status=Item.Status.PENDING).exists()
    with transaction.atomic():
        job.refresh_from_db()
        if not more and job.status == ImportJob.Status.RUNNING:
            _finish(job)
        else:
            _broadcast(job)
    return more


def _fetch_one(job: ImportJob, item_id: int) -> None:
    from apps.storage.intake import IntakeError
    from apps.storage.services import blob_delete

    item = Item.objects.for_org(job.organization_id).filter(pk=item_id, status=Item.Status.PENDING).first()
    if item is None:  # fetched by an earlier delivery of this message
        return
    blob = None
    try:
        with _open_source(job, item) as stream:
            kind, mime, facts = _inspect(stream, filename=item.name, declared_kind=item.kind)
            blob = _store(org=job.organization, stream=stream, mime=mime, item=item)
        with transaction.atomic():
            updated = Item.objects.for_org(job.organization_id).filter(pk=item.pk, status=Item.Status.PENDING).update(
                import_job=None, **_item_fields(blob=blob, kind=kind, mime=mime, facts=facts)
            )
            if not updated:
                raise _AlreadyDone
            _count(job, processed=1, succeeded=1)
            item.kind = kind
            item.organization_id = job.organization_id
            _after_item_stored(item)
            items_added(org_id=job.organization_id, dataset_id=job.dataset_id, item_ids=[item.pk])
    except _AlreadyDone:
        blob_delete(blob)
    except (IntakeError, ValidationError, OSError) as exc:
        if blob is not None:
            blob_delete(blob)
        message = _words(exc)
        with transaction.atomic():
            Item.objects.for_org(job.organization_id).filter(pk=item.pk).update(
                status=Item.Status.FAILED, error=message[:2000], import_job=None
            )
            _record_errors(job, [(item.pk, item.source_url, message)])


class _AlreadyDone(Exception):
    pass


def _open_source(job: ImportJob, item: Item):
    """A readable, seekable stream of the item's source: a public URL, or a key in the organisation's
    own intake area of its region's storage."""
    from apps.storage.intake import safe_fetch
    from apps.storage.services import open_intake_object

    if item.source_url.startswith("storage:"):
        return open_intake_object(org=job.organization, key=item.source_url.removeprefix("storage:"))
    fetched = safe_fetch(item.source_url, max_bytes=max_item_bytes(), timeout_seconds=60)
    return fetched.stream


# --- Serving content ----------------------------------------------------------------------------


def serve_item_content(request, *, org, actor, item: Item, download: bool, grant: str = ""):
    from apps.core.api.errors import problem_response
    from apps.storage.http import serve_blob

    from .services import item_content_read

    if item.blob_id is None:
        why = {
            Item.Status.PENDING: "its content is still being fetched",
            Item.Status.FAILED: f"its content could not be fetched ({item.error or 'no reason recorded'})",
        }.get(item.status, "no content is stored for it")
        return problem_response(409, f"This item has no content: {why}.")
    item_content_read(org=org, actor=actor, item=item, download=download, grant=grant)
    return serve_blob(request, item.blob, filename=item.name, inline=not download)


def serve_item_thumbnail(request, *, item: Item):
    from apps.storage.http import serve_blob

    return serve_blob(request, item.thumbnail, filename=f"{item.name}.jpg", inline=True)


def item_thumbnail_make(*, item: Item) -> None:
    """Renders the 256-pixel JPEG preview of an image item (idempotent: done once)."""
    from apps.storage.intake import IntakeError, make_thumbnail
    from apps.storage.services import blob_delete, blob_open, blob_put

    if item.thumbnail_id or item.blob_id is None or item.kind != Item.Kind.IMAGE:
        return
    import io

    try:
        with blob_open(item.blob) as stream:
            data = make_thumbnail(stream)
    except IntakeError as exc:
        logger.warning("No thumbnail for item %s: %s", item.pk, exc)
        return
    from apps.compliance.subject_keys import subject_key_for_item

    blob = blob_put(org=item.organization, stream=io.BytesIO(data), mime="image/jpeg",
                    subject_key=subject_key_for_item(item))
    with transaction.atomic():
        if not Item.objects.for_org(item.organization_id).filter(pk=item.pk, thumbnail__isnull=True).update(
            thumbnail=blob
        ):
            transaction.on_commit(lambda: blob_delete(blob))
