"""The worker's part of an erasure request (GDPR art. 17), called by gdpr.gdpr_request_execute in its transaction.

- The legal hold is checked again here, at execution time (it may have been placed after the request was started):
  a held dataset makes the request `failed` with the reason (`hold_refusal`), nothing is erased.
- The subject's items go with their content and thumbnail blobs, annotations, annotation revisions and whatever
  cascades from an item (work items, pipeline item runs).
- Dataset versions and finished exports whose files hold any of the items are withdrawn (when, why, by this
  request): their files are deleted and their downloads answer 410 Gone (old links stop working). Versions are not
  rebuilt here: the withdrawal keeps which rows are left (ids only), and someone allowed to make versions can
  regenerate one without the erased data (apps/datasets/version_regeneration.py).
- The subject's keys (apps/storage SubjectKey) are destroyed: any copy of ciphertext they protected, backups of the
  bucket included, can no longer be decrypted (crypto-shredding).
- Earlier access bundles about the subject are deleted and every request about them forgets the raw value.
- Nothing caches item content, thumbnails or metadata outside the database and the blob store (the Redis cache
  holds role elevations and health checks only), so there is no cache to clear.
- A certificate signed with the deployment's Ed25519 key (signing.py) lists what was erased and withdrawn, and
  under `not_erased` what could not be.
"""

import base64
import json

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from . import signing
from .models import AuditEvent, DataSubjectRequest

CERTIFICATE_FORMAT = "dlsaas.gdpr.erasure-certificate/1"
ITEM_TARGET = "datasets.item"
WITHDRAWN_REASON = "It held data of a person whose erasure was requested (GDPR art. 17)."
NOT_ERASED = [
    "Audit events written before the erasure are append-only and hash-chained: they keep what they recorded "
    "(item ids, and for item.updated events the metadata before and after the change).",
    "Database backups taken before the erasure keep the erased rows until they expire. The ciphertext in the "
    "blob store and its backups is unreadable: the subject's keys are destroyed.",
]


def hold_refusal(request: DataSubjectRequest) -> str:
    """Why the erasure may not run now (a legal hold on one of the subject's datasets), or ""."""
    from apps.core.errors import ConflictError
    from apps.datasets.models import Dataset
    from apps.datasets.retention import refuse_if_on_hold

    from .gdpr import subject_items

    org_id = request.organization_id
    try:
        refuse_if_on_hold(Dataset.objects.for_org(org_id).filter(
            pk__in=subject_items(org=org_id, value=request.subject_value).values("dataset_id")))
    except ConflictError as exc:
        return exc.message
    return ""


def versions_holding(*, org_id: int, dataset_ids: set[int], item_ids: list[int]) -> list:
    """Ready dataset versions whose items manifest lists any of the items (read from the Parquet file's ids), as
    (version, note) pairs."""
    import pyarrow.parquet as pq

    from apps.datasets.models import DatasetVersion
    from apps.storage.models import Blob
    from apps.storage.services import blob_open

    wanted = set(item_ids)
    found = []
    versions = DatasetVersion.objects.for_org(org_id).filter(dataset_id__in=dataset_ids,
                                                             status=DatasetVersion.Status.READY)
    for version in versions.order_by("dataset_id", "number"):
        blob_id = (version.sections or {}).get("items", {}).get("blob")
        blob = Blob.objects.for_org(org_id).filter(pk=blob_id).first() if blob_id else None
        if blob is None:
            continue
        try:
            with blob_open(blob) as reader:
                ids = pq.read_table(reader, columns=["id"]).column("id").to_pylist()
            holds = bool(wanted.intersection(ids))
        except Exception as exc:  # an unreadable manifest is treated as holding the items
            holds, why = True, f"{type(exc).__name__}: unreadable manifest"
        else:
            why = ""
        if holds:
            found.append((version, why))
    return found


def exports_holding(*, org_id: int, datasets: dict, item_ids: list[int]) -> list:
    """Finished exports, not yet withdrawn, whose filter selects any of the items (they were there when it ran,
    being older)."""
    from apps.annotations.models import ExportJob
    from apps.datasets.models import Item
    from apps.datasets.selectors import item_filter

    oldest = Item.objects.for_org(org_id).filter(pk__in=item_ids).order_by("created_at").values_list(
        "created_at", flat=True).first()
    found = []
    jobs = ExportJob.objects.for_org(org_id).filter(dataset_id__in=datasets, status=ExportJob.Status.DONE,
                                                    withdrawn_at__isnull=True, finished_at__gte=oldest)
    for job in jobs.order_by("id"):
        try:
            holds = item_filter(dataset=datasets[job.dataset_id], filter=job.filter).filter(pk__in=item_ids).exists()
        except ValidationError:
            holds = True  # a filter that no longer compiles: assume it selected them
        if holds:
            found.append(job)
    return found


def _forget_earlier_requests(request: DataSubjectRequest) -> int:
    """Deletes the access bundles made for the subject and blanks the raw value on every request about them."""
    from apps.storage.services import blob_delete

    others = DataSubjectRequest.objects.for_org(request.organization_id).filter(
        subject_pseudonym=request.subject_pseudonym).exclude(pk=request.pk).select_related("result_blob")
    bundles = 0
    for other in others.select_for_update(of=("self",)):
        if other.result_blob is not None:
            blob_delete(other.result_blob)
            bundles += 1
        other.result_blob, other.subject_value = None, ""
        other.save(update_fields=["result_blob", "subject_value", "updated_at"])
    return bundles


def erase(request: DataSubjectRequest) -> None:
    """Erases, withdraws, shreds and signs; sets request.result and blanks request.subject_value (the caller saves)."""
    from apps.annotations.exports import export_withdraw
    from apps.annotations.models import Annotation, AnnotationRevision
    from apps.datasets.models import Dataset, Item
    from apps.datasets.version_services import dataset_version_withdraw
    from apps.storage.models import Blob
    from apps.storage.services import blob_delete, subject_keys_destroy

    from .gdpr import subject_items

    org_id = request.organization_id
    rows = list(subject_items(org=org_id, value=request.subject_value).values_list(
        "id", "dataset_id", "blob_id", "thumbnail_id"))
    item_ids = [r[0] for r in rows]
    dataset_ids = {r[1] for r in rows}
    datasets = {d.pk: d for d in Dataset.objects.for_org(org_id).filter(pk__in=dataset_ids)}
    holding_versions = versions_holding(org_id=org_id, dataset_ids=dataset_ids, item_ids=item_ids) if rows else []
    holding_exports = exports_holding(org_id=org_id, datasets=datasets, item_ids=item_ids) if rows else []
    events_with_changes = AuditEvent.objects.for_org(org_id).filter(
        target_type=ITEM_TARGET, target_id__in=[str(i) for i in item_ids]).filter(
        Q(before__isnull=False) | Q(after__isnull=False)).count() if rows else 0

    revisions, _ = AnnotationRevision.objects.for_org(org_id).filter(item_id__in=item_ids).delete()
    annotations = Annotation.objects.for_org(org_id).filter(item_id__in=item_ids).count()
    Annotation.objects.for_org(org_id).filter(item_id__in=item_ids).delete()
    # Work items, pipeline item runs and the like cascade from the items.
    _total, by_model = Item.objects.for_org(org_id).filter(pk__in=item_ids).delete()
    blob_ids = [b for r in rows for b in r[2:] if b]
    blobs = list(Blob.objects.for_org(org_id).filter(pk__in=blob_ids))
    for blob in blobs:
        blob_delete(blob)  # the row (and its data key) now, the ciphertext once this transaction commits
    cascaded = {label: n for label, n in by_model.items() if label != Item._meta.label and n}

    now = timezone.now()
    versions = []
    for version, note in holding_versions:
        dataset_version_withdraw(version=version, reason=WITHDRAWN_REASON, by_request=request)
        versions.append({"id": version.pk, "dataset": version.dataset_id, "number": version.number,
                         "status": "withdrawn", "files_deleted": True, **({"note": note} if note else {})})
    exports = []
    for job in holding_exports:
        export_withdraw(job=job, reason=WITHDRAWN_REASON, by_request=request)
        exports.append({"id": job.pk, "dataset": job.dataset_id, "format": job.format, "status": "withdrawn",
                        "file_deleted": True})
    access_bundles = _forget_earlier_requests(request)
    subject_keys = subject_keys_destroy(org=org_id, pseudonym=request.subject_pseudonym)

    counts = {"items": len(item_ids), "annotations": annotations, "annotation_revisions": revisions,
              "blobs": len(blobs)}
    by_dataset: dict[int, list[int]] = {}
    for item_id, dataset_id, *_ in rows:
        by_dataset.setdefault(dataset_id, []).append(item_id)
    body = {
        "format": CERTIFICATE_FORMAT,
        "request": request.pk,
        "organization": org_id,
        "subject_pseudonym": request.subject_pseudonym,
        "received_at": request.received_at,
        "verified_at": request.verified_at,
        "verified_by": request.verified_by_id,
        "run_by": request.run_by_id,
        "erased_at": now,
        "counts": counts,
        "cascaded": cascaded,
        "items_by_dataset": {str(k): v for k, v in sorted(by_dataset.items())},
        "dataset_versions": versions,
        "exports": exports,
        "withdrawn": {"reason": WITHDRAWN_REASON, "dataset_versions": [v["id"] for v in versions],
                      "exports": [e["id"] for e in exports], "access_bundles_deleted": access_bundles},
        "subject_keys_destroyed": subject_keys,
        "caches_cleared": "none hold item content, thumbnails or metadata",
        "audit_events_with_item_changes": events_with_changes,
        "not_erased": NOT_ERASED,
    }
    canonical = json.dumps(body, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    certificate = {
        "certificate": json.loads(canonical),
        "signed": "the UTF-8 bytes of `certificate` as JSON with sorted keys and no spaces",
        "signature_ed25519": base64.b64encode(signing.sign(canonical.encode())).decode(),
        "public_key_fingerprint_sha256": signing.public_key_fingerprint(),
    }
    request.result = {"counts": counts, "dataset_versions": versions, "exports": exports,
                      "withdrawn": body["withdrawn"], "subject_keys_destroyed": subject_keys,
                      "audit_events_with_item_changes": events_with_changes, "certificate": certificate}
    request.subject_value = ""
