"""Legal hold and retention of datasets.

- A legal hold (Dataset.legal_hold, with its reason) freezes a dataset: the retention purge skips it and a GDPR
  erasure touching its items is refused (apps/compliance/gdpr.py asks `dataset_on_hold`).
- The retention purge deletes the items older than their dataset's retention_days (by created_at), with their
  annotations, annotation revisions and content and thumbnail blobs, RETENTION_BATCH items per transaction,
  each batch audited as "retention.purged". Running it twice deletes nothing more: it is idempotent.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.compliance.services import audit_record
from apps.core.errors import ConflictError
from apps.tenancy.permissions import require_scope

from .models import Dataset, Item

RETENTION_BATCH = 1_000


def dataset_on_hold(dataset: Dataset) -> bool:
    """Whether a legal hold forbids purging or erasing anything of this dataset."""
    return bool(dataset.legal_hold)


def refuse_if_on_hold(datasets) -> None:
    """A 409 naming the held datasets, when any of them is on hold."""
    held = [d for d in datasets if dataset_on_hold(d)]
    if held:
        raise ConflictError(
            "Under legal hold: nothing of "
            + ", ".join(f"the dataset {d.name!r} ({d.legal_hold_reason or 'no reason given'})" for d in held)
            + " may be erased until the hold is lifted.",
            [{"dataset": d.pk, "legal_hold": True, "legal_hold_reason": d.legal_hold_reason} for d in held],
        )


def dataset_legal_hold_set(*, org, actor, dataset: Dataset, on: bool, reason: str = "") -> Dataset:
    """Places (with a reason) or lifts a legal hold; audited as dataset.legal_hold_placed / _lifted."""
    require_scope(org=org, actor=actor, scope="dataset.manage", obj=dataset)
    reason = (reason or "").strip()
    if on and not reason:
        raise ValidationError({"legal_hold_reason": "Say why the dataset is held (a case or matter reference)."})
    if len(reason) > 2000:
        raise ValidationError({"legal_hold_reason": "At most 2000 characters."})
    with transaction.atomic():
        dataset = Dataset.objects.for_org(org).select_for_update().get(pk=dataset.pk)
        before = {"legal_hold": dataset.legal_hold, "legal_hold_reason": dataset.legal_hold_reason}
        dataset.legal_hold, dataset.legal_hold_reason = bool(on), reason if on else ""
        if before == {"legal_hold": dataset.legal_hold, "legal_hold_reason": dataset.legal_hold_reason}:
            return dataset
        dataset.save(update_fields=["legal_hold", "legal_hold_reason", "updated_at"])
        audit_record(org=org, actor=actor, action="dataset.legal_hold_placed" if on else "dataset.legal_hold_lifted",
                     target=dataset, before=before,
                     after={"legal_hold": dataset.legal_hold, "legal_hold_reason": dataset.legal_hold_reason})
    return dataset


def datasets_due_for_retention(*, org_id: int):
    return Dataset.objects.for_org(org_id).filter(retention_days__isnull=False, legal_hold=False).order_by("id")


def _purge_batch(*, org_id: int, dataset_id: int, cutoff, limit: int) -> int:
    from apps.annotations.models import Annotation, AnnotationRevision
    from apps.storage.models import Blob
    from apps.storage.services import blob_delete

    with transaction.atomic():
        # Locked and re-read: a hold placed since the job started wins.
        dataset = Dataset.objects.for_org(org_id).select_for_update().filter(pk=dataset_id).first()
        if dataset is None or dataset_on_hold(dataset):
            return 0
        rows = list(Item.objects.for_org(org_id).filter(dataset_id=dataset_id, created_at__lt=cutoff)
                    .order_by("created_at", "id").values_list("id", "blob_id", "thumbnail_id")[:limit])
        if not rows:
            return 0
        ids = [r[0] for r in rows]
        revisions, _ = AnnotationRevision.objects.for_org(org_id).filter(item_id__in=ids).delete()
        annotations, _ = Annotation.objects.for_org(org_id).filter(item_id__in=ids).delete()
        Item.objects.for_org(org_id).filter(pk__in=ids).delete()
        blobs = list(Blob.objects.for_org(org_id).filter(pk__in=[b for r in rows for b in r[1:] if b]))
        for blob in blobs:
            blob_delete(blob)  # the row now, the ciphertext once this transaction commits
        audit_record(org=org_id, actor=None, action="retention.purged", target=dataset,
                     metadata={"dataset_id": dataset.pk, "retention_days": dataset.retention_days,
                               "cutoff": cutoff.isoformat(),
                               "counts": {"items": len(ids), "annotations": annotations,
                                          "annotation_revisions": revisions, "blobs": len(blobs)}})
    return len(ids)


def retention_purge(*, org_id: int, now=None, batch: int = RETENTION_BATCH) -> dict[int, int]:
    """Purges every expired item of the organisation's datasets that are not on hold; {dataset id: items}."""
    now = now or timezone.now()
    purged: dict[int, int] = {}
    for dataset in datasets_due_for_retention(org_id=org_id):
        cutoff = now - timedelta(days=dataset.retention_days)
        while True:
            count = _purge_batch(org_id=org_id, dataset_id=dataset.pk, cutoff=cutoff, limit=batch)
            if not count:
                break
            purged[dataset.pk] = purged.get(dataset.pk, 0) + count
    return purged
