"""Dataset versions: starting one (the request), building it (the worker), reading, comparing and downloading.

The engine (sections, Parquet files, the diff walk) is versions.py; this module checks scopes, stores the files
as encrypted blobs in the organisation's region, audits and serves. Reads are here too (access_dataset_version,
dataset_version_list, dataset_version_get), beside the writes they serve. Withdrawal (GDPR art. 17) is at the end;
regenerating a withdrawn version is version_regeneration.py's.
"""

import json
import logging
import tempfile
import time
import zipfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pyarrow.parquet as pq
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.db import connection, transaction
from django.db.models import Max, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from apps.compliance.services import audit_record
from apps.core.errors import ConflictError, GoneError
from apps.core.events import broadcast_on_commit, group_name, send_now
from apps.core.ids import parse_id
from apps.core.outbox import enqueue
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope, require_scope

from . import versions
from .models import Dataset, DatasetVersion

logger = logging.getLogger(__name__)

MAX_MESSAGE = 2000
MAX_DIFF_LIMIT = 1_000
PROGRESS_EVERY_SECONDS = 2.0
EVENTS_TOPIC = "dataset_versions"
STREAM_PIECE = 256 * 1024
_BUILD_LOCK_NAMESPACE = 0x647376  # "dsv"


# --- Reads ---------------------------------------------------------------------------------------


def access_dataset_version(*, org, actor, version_id, scope: str = "item.view") -> DatasetVersion:
    """The version, if the actor has `scope` on its dataset; missing and forbidden are the same 404."""
    from .version_regeneration import with_lineage

    pk = parse_id(version_id)
    versions_qs = with_lineage(DatasetVersion.objects.for_org(org), org=org)
    version = versions_qs.select_related("dataset", "created_by").filter(pk=pk).first() if pk else None
    if version is None or not has_scope(org=org, actor=actor, scope=scope, obj=version.dataset):
        deny_not_found(org=org, actor=actor, target_type="datasets.datasetversion", target_id=version_id,
                       scope=scope)
    return version


def dataset_version_list(*, dataset: Dataset) -> QuerySet[DatasetVersion]:
    """Newest first, each with the version it was regenerated from and the one that replaces it."""
    from .version_regeneration import with_lineage

    org_id = dataset.organization_id
    return (with_lineage(DatasetVersion.objects.for_org(org_id).filter(dataset=dataset), org=org_id)
            .select_related("created_by").order_by("-number"))


def dataset_version_get(*, org_id: int, version_id: int) -> DatasetVersion | None:
    return (DatasetVersion.objects.for_org(org_id).select_related("organization", "dataset")
            .filter(pk=version_id).first())


def dataset_version_previous(*, version: DatasetVersion) -> DatasetVersion | None:
    """The latest ready version made before this one (what "diff with previous" compares with)."""
    return (DatasetVersion.objects.for_org(version.organization_id)
            .filter(dataset_id=version.dataset_id, number__lt=version.number, status=DatasetVersion.Status.READY)
            .order_by("-number").first())


# --- Starting a version --------------------------------------------------------------------------


def _event_data(version: DatasetVersion) -> dict:
    return {"id": version.pk, "dataset": version.dataset_id, "number": version.number, "status": version.status,
            "item_count": version.item_count, "annotation_count": version.annotation_count}


def broadcast(version: DatasetVersion) -> None:
    broadcast_on_commit(org=version.organization_id, topic=EVENTS_TOPIC, event="dataset_version.progress",
                        data=_event_data(version))


def version_number_next(*, org, dataset: Dataset) -> int:
    """The dataset's next version number, holding the dataset row's lock until the caller's transaction ends (one
    number at a time per dataset); a conflict while one of its versions is being built."""
    Dataset.objects.for_org(org).select_for_update().filter(pk=dataset.pk).first()
    existing = DatasetVersion.objects.for_org(org).filter(dataset=dataset)
    if existing.filter(status=DatasetVersion.Status.BUILDING).exists():
        raise ConflictError("A version of this dataset is being built: make the next one once it is ready.")
    return (existing.aggregate(last=Max("number"))["last"] or 0) + 1


def dataset_version_create(*, org, actor, dataset: Dataset, message: str, filter: dict | None = None) \
        -> DatasetVersion:
    """Numbers a new version of the dataset (or of the items matching `filter`) and queues its build."""
    from .selectors import item_filter
    from .tasks import build_dataset_version

    require_scope(org=org, actor=actor, scope="dataset.version", obj=dataset)
    message = (message or "").strip()
    if not message or len(message) > MAX_MESSAGE:
        raise ValidationError({"message": f"Say what this version is, in 1 to {MAX_MESSAGE:,} characters."})
    filter = {} if filter is None else filter
    if not isinstance(filter, dict):
        raise ValidationError({"filter": "A filter is a JSON object of the query language ({} for every item)."})
    item_filter(dataset=dataset, filter=filter)  # compiles it: a bad query names its path
    with transaction.atomic():
        number = version_number_next(org=org, dataset=dataset)
        version = DatasetVersion.objects.create(
            organization_id=org.pk, dataset=dataset, number=number, message=message, filter=filter,
            created_by=actor,
        )
        audit_record(org=org, actor=actor, action="dataset_version.created", target=version,
                     after={"number": number, "message": message, "filter": filter},
                     metadata={"dataset_id": dataset.pk})
        enqueue(build_dataset_version, org.pk, version.pk)
        broadcast(version)
    return version


# --- Building it (the worker) --------------------------------------------------------------------


@contextmanager
def _build_lock(version_id: int):
    """True when this process builds the version; False when another delivery of the message already does."""
    if connection.vendor != "postgresql":
        yield True
        return
    params = [_BUILD_LOCK_NAMESPACE, version_id]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", params)
        mine = cursor.fetchone()[0]
    try:
        yield mine
    finally:
        if mine:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", params)


def _progress_sender(version: DatasetVersion):
    group = group_name(version.organization_id, EVENTS_TOPIC)
    last_sent = [0.0]

    def send(rows: dict[str, int]) -> None:
        now = time.monotonic()
        if now - last_sent[0] < PROGRESS_EVERY_SECONDS:
            return
        last_sent[0] = now
        # Sent at once rather than on commit: the build reads inside one long snapshot transaction, and the rows
        # written to temporary files so far are no database change that could roll back.
        send_now(group, "dataset_version.progress", {**_event_data(version), "rows": rows})

    return send


def manifest_checksum(sections: dict) -> str:
    """sha256 of the lines "<section> <sha256 of its Parquet file>", sections sorted by name."""
    import hashlib

    lines = "".join(f"{name} {sections[name]['sha256']}\n" for name in sorted(sections))
    return hashlib.sha256(lines.encode()).hexdigest()


def _words(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or type(exc).__name__


def dataset_version_build(*, version: DatasetVersion) -> None:
    """Writes the version's files, stores them and marks it ready (or failed, saying why).

    Safe to run again: a built version is left alone, and a second delivery of the message while the first is
    still building (an advisory lock per version) does nothing.
    """
    from apps.storage.services import blob_delete, blob_put

    from . import version_regeneration

    with _build_lock(version.pk) as mine:
        if not mine:
            return
        version.refresh_from_db()
        if version.status != DatasetVersion.Status.BUILDING:
            return
        stored = {}
        try:
            with (tempfile.TemporaryDirectory(prefix="dataset-version-") as directory,
                  version_regeneration.build_source(version) as source):
                written = versions.write_manifest(version=version, directory=Path(directory),
                                                  progress=_progress_sender(version), **source)
                for name, path in written.files.items():
                    with open(path, "rb") as stream:
                        stored[name] = blob_put(org=version.organization_id, stream=stream,
                                                mime=versions.PARQUET_MIME)
            sections = {name: {"blob": blob.pk, "rows": written.rows[name], "bytes": blob.size,
                               "sha256": blob.sha256} for name, blob in stored.items()}
            with transaction.atomic():
                version.status = DatasetVersion.Status.READY
                version.sections = sections
                version.checksum = manifest_checksum(sections)
                version.item_count = written.rows.get(versions.ITEMS, 0)
                version.annotation_count = written.rows.get("annotations", 0)
                version.finished_at = timezone.now()
                version.notes = version_regeneration.built_notes(version, written)
                version.save(update_fields=["status", "sections", "checksum", "item_count", "annotation_count",
                                            "finished_at", "notes"])
                audit_record(org=version.organization_id, actor=None, action="dataset_version.built", target=version,
                             metadata={"dataset_id": version.dataset_id, "rows": written.rows,
                                       "checksum": version.checksum,
                                       **({"restored": written.pinned} if written.pinned else {})})
                version_regeneration.regeneration_built(version)
                broadcast(version)
        except Exception as exc:
            logger.exception("Dataset version %s could not be built", version.pk)
            for blob in stored.values():
                blob_delete(blob)
            with transaction.atomic():
                version.status = DatasetVersion.Status.FAILED
                version.error = f"The version could not be built: {_words(exc)}"[:2000]
                version.finished_at = timezone.now()
                version.save(update_fields=["status", "error", "finished_at"])
                audit_record(org=version.organization_id, actor=None, action="dataset_version.failed",
                             target=version, metadata={"dataset_id": version.dataset_id, "error": version.error})
                broadcast(version)


# --- Comparing two versions ----------------------------------------------------------------------


def _withdrawn_words(version: DatasetVersion) -> str:
    from .version_regeneration import replacement_of

    said = (f"Version {version.number} was withdrawn on {version.withdrawn_at:%Y-%m-%d}: {version.withdrawn_reason} "
            "Its files were deleted;")
    replacement = replacement_of(version)
    if replacement is None:
        return f"{said} make a new version, or regenerate this one without the erased data."
    if replacement.status == DatasetVersion.Status.READY:
        return (f"{said} version {replacement.number} replaces it, regenerated without the erased data: "
                f"/api/v1/dataset-versions/{replacement.pk}/download/")
    return (f"{said} version {replacement.number}, regenerated from it without the erased data, is "
            f"{replacement.get_status_display().lower()} (/api/v1/dataset-versions/{replacement.pk}/).")


def _require_ready(version: DatasetVersion) -> None:
    if version.status == DatasetVersion.Status.WITHDRAWN:
        raise GoneError(_withdrawn_words(version))
    if version.status != DatasetVersion.Status.READY:
        raise ConflictError(f"Version {version.number} is {version.get_status_display().lower()}: only ready "
                            "versions can be compared or downloaded.")


def _section_blob(version: DatasetVersion, name: str):
    from apps.storage.models import Blob

    entry = version.sections.get(name)
    if entry is None:
        return None
    blob = Blob.objects.for_org(version.organization_id).filter(pk=entry["blob"]).first()
    if blob is None:
        raise ConflictError(f"The {name} file of version {version.number} is no longer stored (it was erased).")
    return blob


def dataset_version_diff(*, org, actor, version: DatasetVersion, against: DatasetVersion,
                         limit: int = versions.DIFF_ID_LIMIT) -> dict:
    """What changed from `against` to `version`, section by section: counts, the first `limit` ids of each kind
    of change, and (for annotations) label counts before and after. Both must be ready versions of one dataset."""
    from apps.storage.services import blob_open

    from .services import items_listed

    if against.dataset_id != version.dataset_id:
        raise ValidationError({"against": "Compare two versions of the same dataset."})
    _require_ready(version)
    _require_ready(against)
    limit = max(0, min(int(limit), MAX_DIFF_LIMIT))
    names = list(dict.fromkeys([*(s.name for s in versions.version_sections()), *against.sections,
                                *version.sections]))
    result = {}
    with ExitStack() as stack:
        for name in names:
            section = versions.version_section(name)
            if section is None:
                continue  # no app provides this section any more
            files = []
            for side in (against, version):
                blob = _section_blob(side, name)
                files.append(pq.ParquetFile(stack.enter_context(blob_open(blob))) if blob else None)
            result[name] = versions.diff_section(section, *files, limit=limit)
    shown = result.get(versions.ITEMS, {})
    items_listed(org=org, actor=actor, dataset=version.dataset,
                 item_ids=[pk for kind in ("added", "removed", "changed") for pk in shown.get(kind, {}).get("ids", [])])
    return {"from": {"id": against.pk, "number": against.number},
            "to": {"id": version.pk, "number": version.number}, "limit": limit, "sections": result}


# --- Downloading it ------------------------------------------------------------------------------


def _manifest(version: DatasetVersion) -> dict:
    return {
        "format": versions.FORMAT_VERSION,
        "dataset": {"id": version.dataset_id, "name": version.dataset.name},
        "version": {"id": version.pk, "number": version.number, "message": version.message,
                    "created_by": version.created_by.email if version.created_by else None,
                    "created_at": version.created_at.isoformat(), "filter": version.filter,
                    **({"regenerated_from": {"id": version.regenerated_from_id,
                                             "number": getattr(version.regenerated_from, "number", None)},
                        "notes": version.notes} if version.regenerated_from_id else {})},
        "checksum": version.checksum,
        "sections": {name: {"file": f"{name}.parquet", "rows": entry["rows"], "bytes": entry["bytes"],
                            "sha256": entry["sha256"]} for name, entry in version.sections.items()},
    }


class _Pipe:
    """A write-only file that zipfile streams into (it writes data descriptors when it cannot seek)."""

    def __init__(self):
        self.pieces: list[bytes] = []
        self.size = 0

    def write(self, data) -> int:
        self.pieces.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.pieces, self.size = b"".join(self.pieces), [], 0
        return data


def _zip_pieces(version: DatasetVersion, readers: dict):
    pipe = _Pipe()
    stamp = version.created_at.utctimetuple()[:6]
    try:
        with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            archive.writestr(zipfile.ZipInfo("version.json", date_time=stamp),
                             json.dumps(_manifest(version), indent=2, ensure_ascii=False))
            for name, reader in readers.items():
                with archive.open(zipfile.ZipInfo(f"{name}.parquet", date_time=stamp), "w", force_zip64=True) as out:
                    while piece := reader.read(STREAM_PIECE):
                        out.write(piece)
                        if pipe.size >= STREAM_PIECE:
                            yield pipe.take()
        yield pipe.take()
    finally:
        for reader in readers.values():
            reader.close()


def _next_piece(pieces):
    return next(pieces, None)


def _for_server(request, pieces):
    """Under ASGI Django would buffer a sync iterator whole: pull it one piece at a time in a worker thread."""
    if not isinstance(request, ASGIRequest):
        return pieces

    async def apieces():
        step = sync_to_async(_next_piece, thread_sensitive=False)
        try:
            while (piece := await step(pieces)) is not None:
                yield piece
        finally:
            await sync_to_async(pieces.close, thread_sensitive=False)()

    return apieces()


def dataset_version_serve(request, *, org, actor, version: DatasetVersion, section: str | None):
    """One section's Parquet file, or (no section) a zip of every file with a version.json; audited."""
    from apps.storage.http import content_disposition, serve_blob
    from apps.storage.services import blob_open

    require_scope(org=org, actor=actor, scope="dataset.version", obj=version.dataset)
    _require_ready(version)
    if section:
        if section not in version.sections:
            raise ValidationError({"section": f"This version has no section {section!r}: choose one of "
                                              f"{', '.join(sorted(version.sections))}."})
        blob = _section_blob(version, section)
    names = [section] if section else list(version.sections)
    audit_record(org=org, actor=actor, action="dataset_version.downloaded", target=version,
                 metadata={"dataset_id": version.dataset_id, "sections": names,
                           "classification": version.dataset.classification})
    filename = f"{version.dataset.name}-v{version.number}"
    if section:
        return serve_blob(request, blob, filename=f"{filename}-{section}.parquet", inline=False)
    readers = {}
    try:
        for name in names:
            readers[name] = blob_open(_section_blob(version, name))
    except BaseException:
        for reader in readers.values():
            reader.close()
        raise
    response = StreamingHttpResponse(_for_server(request, _zip_pieces(version, readers)),
                                     content_type="application/zip")
    response["Content-Disposition"] = content_disposition(f"{filename}.zip", inline=False)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- Withdrawal ----------------------------------------------------------------------------------


def dataset_version_withdraw(*, version: DatasetVersion, reason: str, by_request=None) -> bool:
    """Withdraws a ready version whose files held erased data (GDPR art. 17): marked withdrawn (when, why, by which
    request; the one change the database allows once a version is built), its Parquet files deleted (the ciphertext
    once the caller's transaction commits); its downloads answer 410 from then on. Not rebuilt here: what of its
    files is still there (ids and annotation versions, no content) is kept first, so that someone allowed to make
    versions can regenerate it (version_regeneration.py). Returns False when it was not ready (already withdrawn,
    failed, building)."""
    from apps.storage.models import Blob
    from apps.storage.services import blob_delete

    from .version_regeneration import membership_keep

    with transaction.atomic():
        version = DatasetVersion.objects.for_org(version.organization_id).select_for_update().get(pk=version.pk)
        if version.status != DatasetVersion.Status.READY:
            return False
        version.status, version.withdrawn_at = DatasetVersion.Status.WITHDRAWN, timezone.now()
        version.withdrawn_reason, version.withdrawn_by_request = reason[:2000], by_request
        version.withdrawn_membership = membership_keep(version)
        version.save(update_fields=["status", "withdrawn_at", "withdrawn_reason", "withdrawn_by_request",
                                    "withdrawn_membership"])
        blob_ids = [entry["blob"] for entry in version.sections.values() if entry.get("blob")]
        for blob in Blob.objects.for_org(version.organization_id).filter(pk__in=blob_ids):
            blob_delete(blob)
        audit_record(org=version.organization_id, actor=None, action="dataset_version.withdrawn", target=version,
                     before={"status": DatasetVersion.Status.READY}, after={"status": version.status},
                     metadata={"dataset_id": version.dataset_id, "reason": version.withdrawn_reason,
                               "request_id": getattr(by_request, "pk", None),
                               "membership_kept": {name: entry["rows"] for name, entry
                                                   in version.withdrawn_membership.items()}})
        broadcast(version)
    return True
