"""Which stored bytes are about which data subject, so erasure can crypto-shred them (GDPR art. 17).

An item of a dataset that names a subject key (Dataset.subject_key, e.g. "patient_id") whose metadata holds a value
under that key is about that subject. Its content and thumbnail blobs have their data keys wrapped by the subject's
key (apps/storage: SubjectKey, named by the subject's pseudonym), not by the organisation key, so destroying that one
key on erasure leaves every copy of their ciphertext unreadable, backups of the bucket included.

- New content is stored under the subject's key directly when the item's metadata is known (a URL or manifest
  row fetched by the worker, a thumbnail); an upload gets its metadata afterwards.
- When an item's subject changes (its metadata, or the dataset's subject key), `items_bind_subject_keys` re-wraps its
  blobs' data keys (a few bytes each; the objects are not rewritten). Item edits do it in their transaction; bulk
  metadata edits and a changed Dataset.subject_key queue `tasks.bind_dataset_subject_keys`.

The cryptography itself stays in apps/storage; this module only decides who a blob belongs to.
"""

import logging

from apps.tenancy.base import org_id_of

logger = logging.getLogger(__name__)

BATCH = 500


def subject_value(metadata, key: str) -> str | None:
    """The subject's identifier as the metadata holds it under `key` (strings and whole numbers), else None."""
    if not key or not isinstance(metadata, dict):
        return None
    value = metadata.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    value = str(value).strip()
    return value or None


def subject_key_for(*, org, subject_key_name: str, metadata, _memo: dict | None = None):
    """The live SubjectKey of the subject that `metadata` names under the dataset's subject key, or None."""
    from apps.storage.services import subject_key_get_or_create

    from .gdpr import subject_pseudonym

    value = subject_value(metadata, subject_key_name)
    if value is None:
        return None
    if _memo is not None and value in _memo:
        return _memo[value]
    found = subject_key_get_or_create(org=org, pseudonym=subject_pseudonym(org=org, value=value))
    if _memo is not None:
        _memo[value] = found
    return found


def subject_key_for_item(item, *, dataset=None):
    """The key that should wrap the data keys of this item's blobs (None: the organisation key)."""
    dataset = dataset or item.dataset
    return subject_key_for(org=item.organization_id, subject_key_name=dataset.subject_key, metadata=item.metadata)


def items_bind_subject_keys(*, org, item_ids: list[int] | None = None, dataset_id: int | None = None) -> int:
    """Re-wraps the content and thumbnail blobs of the given items (or of every item of the dataset) with the key
    of the subject their metadata names now, or with the organisation key when it names none. Idempotent.
    Returns how many blobs were re-wrapped."""
    from apps.datasets.models import Item
    from apps.storage.errors import KeyUnavailable
    from apps.storage.services import blob_bind_subject

    org_id = org_id_of(org)
    items = Item.objects.for_org(org_id).select_related("dataset", "blob", "thumbnail").order_by("pk")
    if item_ids is not None:
        items = items.filter(pk__in=item_ids)
    elif dataset_id is not None:
        items = items.filter(dataset_id=dataset_id)
    else:
        raise ValueError("Name the items or the dataset.")
    memo: dict = {}
    rebound = 0
    last = 0
    while True:
        batch = list(items.filter(pk__gt=last)[:BATCH])
        if not batch:
            return rebound
        for item in batch:
            subject_key = subject_key_for(org=org_id, subject_key_name=item.dataset.subject_key,
                                          metadata=item.metadata, _memo=memo)
            for blob in (item.blob, item.thumbnail):
                if blob is None:
                    continue
                try:
                    rebound += blob_bind_subject(blob, subject_key)
                except KeyUnavailable:  # wrapped by a key destroyed by an erasure: nothing left to protect
                    logger.warning("Blob %s of item %s is under a destroyed key: not re-wrapped", blob.pk, item.pk)
        last = batch[-1].pk


def subject_changed(*, dataset, before: dict | None, after: dict | None) -> bool:
    """Whether a metadata change moves an item to another subject (or to none) in this dataset."""
    key = dataset.subject_key
    return bool(key) and subject_value(before, key) != subject_value(after, key)
