"""Writes of the datasets app. Each checks the actor's scope, validates, saves and audits in one transaction."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Func, JSONField, Value

from apps.compliance import subject_keys
from apps.compliance.services import audit_record
from apps.tenancy.permissions import require_scope

from .item_hooks import items_changed
from .metadata import merge_patch, normalise_folder, validate_metadata
from .models import SUBJECT_CATEGORIES, Dataset, Folder, Item, SavedFilter, normalise_subject_categories

DATASET_FIELDS = ("name", "description", "classification", "retention_days", "purpose", "subject_key",
                  "subject_categories")
# A bulk delete of more items than this runs as a background job, BULK_DELETE_BATCH items at a time.
BULK_DELETE_INLINE_LIMIT = 10_000
BULK_DELETE_BATCH = 5_000


def dataset_create(*, org, actor, name: str, description: str = "",
                   classification: str = Dataset.Classification.INTERNAL, retention_days: int | None = None,
                   purpose: str = "", subject_key: str = "", subject_categories: list[str] | None = None) -> Dataset:
    require_scope(org=org, actor=actor, scope="dataset.create")
    dataset = Dataset(
        organization_id=org.pk, name=(name or "").strip(), description=description or "",
        classification=classification, retention_days=retention_days, purpose=(purpose or "").strip(),
        subject_key=(subject_key or "").strip(), created_by=actor,
        subject_categories=_categories(subject_categories or []),
    )
    dataset.full_clean(exclude=["organization", "created_by"], validate_unique=False)
    try:
        with transaction.atomic():
            dataset.save()
            audit_record(
                org=org, actor=actor, action="dataset.created", target=dataset,
                after={"name": dataset.name, "classification": dataset.classification,
                       "retention_days": dataset.retention_days, "purpose": dataset.purpose,
                       "subject_key": dataset.subject_key, "subject_categories": dataset.subject_categories},
            )
    except IntegrityError:
        raise ValidationError({"name": f"A dataset named {dataset.name!r} already exists."}) from None
    return dataset


def dataset_update(*, org, actor, dataset: Dataset, **changes) -> Dataset:
    require_scope(org=org, actor=actor, scope="dataset.manage", obj=dataset)
    unknown = set(changes) - set(DATASET_FIELDS)
    if unknown:
        raise ValidationError({field: "This field cannot be changed." for field in sorted(unknown)})
    before = {field: getattr(dataset, field) for field in changes}
    for field, value in changes.items():
        if field == "subject_categories":
            value = _categories(value)
        setattr(dataset, field, value.strip() if isinstance(value, str) and field in ("name", "subject_key") else value)
    dataset.full_clean(exclude=["organization", "created_by"], validate_unique=False)
    try:
        with transaction.atomic():
            dataset.save(update_fields=[*changes, "updated_at"])
            audit_record(org=org, actor=actor, action="dataset.updated", target=dataset, before=before,
                         after={field: getattr(dataset, field) for field in changes})
            if "subject_key" in changes and before["subject_key"] != dataset.subject_key:
                _rebind_subject_keys_later(dataset)
    except IntegrityError:
        raise ValidationError({"name": f"A dataset named {dataset.name!r} already exists."}) from None
    return dataset


def _categories(value):
    """Each category once, in the vocabulary's order; anything not a list is left for full_clean to refuse."""
    return normalise_subject_categories(value) if isinstance(value, list) and set(value) <= set(SUBJECT_CATEGORIES) \
        else value


def folder_create(*, org, actor, dataset: Dataset, path: str) -> Folder:
    require_scope(org=org, actor=actor, scope="item.change", obj=dataset)
    path = normalise_folder(path)
    with transaction.atomic():
        folder, created = Folder.objects.for_org(org).get_or_create(
            dataset=dataset, path=path, defaults={"organization_id": org.pk}
        )
        if created:
            audit_record(org=org, actor=actor, action="folder.created", target=folder, target_label=path,
                         metadata={"dataset_id": dataset.pk})
    return folder


def item_update(*, org, actor, item: Item, name: str | None = None, folder: str | None = None,
                metadata_patch: dict | None = None) -> Item:
    """Renames, moves or patches metadata (JSON Merge Patch: null removes a key)."""
    require_scope(org=org, actor=actor, scope="item.change", obj=item.dataset)
    before, changed = {}, []
    if name is not None:
        name = name.strip()
        if not name or len(name) > 500 or "/" in name or "\x00" in name:
            raise ValidationError({"name": "A name is 1 to 500 characters, without '/'."})
        before["name"], item.name = item.name, name
        changed.append("name")
    if folder is not None:
        before["folder"], item.folder = item.folder, normalise_folder(folder)
        changed.append("folder")
    if metadata_patch is not None:
        if not isinstance(metadata_patch, dict):
            raise ValidationError({"metadata": "A metadata patch must be a JSON object."})
        before["metadata"] = item.metadata
        item.metadata = validate_metadata(merge_patch(item.metadata, metadata_patch))
        changed.append("metadata")
    if not changed:
        return item
    with transaction.atomic():
        item.save(update_fields=changed)
        audit_record(org=org, actor=actor, action="item.updated", target=item, before=before,
                     after={field: getattr(item, field) for field in changed},
                     metadata={"dataset_id": item.dataset_id})
        if "metadata" in changed and subject_keys.subject_changed(dataset=item.dataset, before=before["metadata"],
                                                                  after=item.metadata):
            subject_keys.items_bind_subject_keys(org=org, item_ids=[item.pk])
        if "metadata" in changed or "folder" in changed:
            items_changed(org_id=org.pk, dataset_id=item.dataset_id, item_ids=[item.pk])
    return item


def _rebind_subject_keys_later(dataset: Dataset) -> None:
    """The items' blobs move to the keys of the subjects their metadata now names (crypto-shredding on erasure)."""
    from apps.compliance.tasks import bind_dataset_subject_keys
    from apps.core.outbox import enqueue

    enqueue(bind_dataset_subject_keys, dataset.organization_id, dataset.pk)


def item_delete(*, org, actor, item: Item) -> None:
    require_scope(org=org, actor=actor, scope="item.change", obj=item.dataset)
    from apps.storage.services import blob_delete

    blobs = [b for b in (item.blob, item.thumbnail) if b is not None]
    with transaction.atomic():
        audit_record(org=org, actor=actor, action="item.deleted", target=item,
                     before={"name": item.name, "folder": item.folder, "sha256": item.sha256},
                     metadata={"dataset_id": item.dataset_id})
        item.delete()
        for blob in blobs:
            blob_delete(blob)  # the row now, the ciphertext once this transaction commits


def _jsonb_concat(patch: dict):
    return Func(F("metadata"), Value(patch, output_field=JSONField()), template="(%(expressions)s)",
                arg_joiner=" || ", output_field=JSONField())


def items_bulk_update(*, org, actor, dataset: Dataset, items, folder: str | None = None,
                      set_metadata: dict | None = None) -> int:
    """Moves the matching items to a folder and/or sets top-level metadata keys, in one statement."""
    require_scope(org=org, actor=actor, scope="item.change", obj=dataset)
    updates = {}
    if folder is not None:
        updates["folder"] = normalise_folder(folder)
    if set_metadata is not None:
        updates["metadata"] = _jsonb_concat(validate_metadata(set_metadata, field="set_metadata"))
    if not updates:
        raise ValidationError({"action": "Say what to change: a folder, metadata, or both."})
    with transaction.atomic():
        count = items.update(**updates)
        audit_record(org=org, actor=actor, action="items.bulk_updated", target=dataset,
                     after={"folder": updates.get("folder"), "set_metadata": set_metadata},
                     metadata={"count": count})
        if count and set_metadata and dataset.subject_key and dataset.subject_key in set_metadata:
            _rebind_subject_keys_later(dataset)
        if count:
            items_changed(org_id=org.pk, dataset_id=dataset.pk, item_ids=None)
    return count


def _delete_items_batch(*, org, actor, dataset: Dataset, items, limit: int) -> int:
    """Deletes up to `limit` of the matching items with their encrypted bytes, audited with their ids."""
    from apps.storage.models import Blob
    from apps.storage.services import blob_delete

    rows = list(items.order_by("id").values_list("id", "blob_id", "thumbnail_id")[:limit])
    if not rows:
        return 0
    ids = [r[0] for r in rows]
    blob_ids = [b for r in rows for b in r[1:] if b]
    with transaction.atomic():
        Item.objects.for_org(org).filter(pk__in=ids).delete()
        for blob in Blob.objects.for_org(org).filter(pk__in=blob_ids):
            blob_delete(blob)  # the row now, the ciphertext once this transaction commits
        audit_record(org=org, actor=actor, action="items.bulk_deleted", target=dataset,
                     metadata={"count": len(ids), "item_ids": ids})
    return len(ids)


def items_bulk_delete(*, org, actor, dataset: Dataset, filter: dict) -> tuple[int, bool]:
    """Deletes every item matching the filter. Up to BULK_DELETE_INLINE_LIMIT go at once; more are
    deleted by a background job in batches. Returns (how many were deleted or are queued, queued?)."""
    from .pagination import fast_count
    from .selectors import item_filter

    require_scope(org=org, actor=actor, scope="item.change", obj=dataset)
    items = item_filter(dataset=dataset, filter=filter)
    count, _exact = fast_count(items, exact_up_to=BULK_DELETE_INLINE_LIMIT)
    if count <= BULK_DELETE_INLINE_LIMIT:
        return _delete_items_batch(org=org, actor=actor, dataset=dataset, items=items,
                                   limit=BULK_DELETE_INLINE_LIMIT), False
    from apps.core.outbox import enqueue

    from .tasks import delete_matching_items

    with transaction.atomic():
        audit_record(org=org, actor=actor, action="items.bulk_delete_started", target=dataset,
                     metadata={"filter": filter, "approximate_count": count})
        enqueue(delete_matching_items, org.pk, dataset.pk, filter, actor.pk)
    return count, True


def items_delete_by_ids(*, org, actor, dataset: Dataset, ids) -> int:
    """Deletes a selection (at most BULK_DELETE_INLINE_LIMIT items) in one transaction, audited once."""
    from .selectors import item_list_by_ids

    require_scope(org=org, actor=actor, scope="item.change", obj=dataset)
    ids = list(ids)
    if len(ids) > BULK_DELETE_INLINE_LIMIT:
        raise ValidationError({"items": f"Select at most {BULK_DELETE_INLINE_LIMIT:,} items at once."})
    return _delete_items_batch(org=org, actor=actor, dataset=dataset, items=item_list_by_ids(dataset=dataset, ids=ids),
                               limit=BULK_DELETE_INLINE_LIMIT)


def items_delete_matching_batch(*, org, actor, dataset: Dataset, filter: dict) -> bool:
    """One batch of a queued bulk delete (the worker's part); True when more items still match."""
    from .selectors import item_filter

    items = item_filter(dataset=dataset, filter=filter)
    _delete_items_batch(org=org, actor=actor, dataset=dataset, items=items, limit=BULK_DELETE_BATCH)
    return items.exists()


def saved_filter_create(*, org, actor, dataset: Dataset, name: str, filter: dict, sort: list) -> SavedFilter:
    require_scope(org=org, actor=actor, scope="item.view", obj=dataset)
    from .query import compile_filter, parse_sort

    compile_filter(filter)
    parse_sort(sort)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError({"name": "Give the filter a name of at most 200 characters."})
    try:
        with transaction.atomic():
            saved = SavedFilter.objects.create(
                organization_id=org.pk, dataset=dataset, name=name, filter=filter or {}, sort=sort or [],
                created_by=actor,
            )
            audit_record(org=org, actor=actor, action="saved_filter.created", target=saved,
                         after={"filter": saved.filter, "sort": saved.sort})
    except IntegrityError:
        raise ValidationError({"name": f"A filter named {name!r} already exists on this dataset."}) from None
    return saved


def saved_filter_delete(*, org, actor, saved_filter: SavedFilter) -> None:
    require_scope(org=org, actor=actor, scope="item.view", obj=saved_filter.dataset)
    with transaction.atomic():
        audit_record(org=org, actor=actor, action="saved_filter.deleted", target=saved_filter)
        saved_filter.delete()


def item_content_read(*, org, actor, item: Item, download: bool = False, via: str = "", grant: str = "") -> None:
    """Records that someone saw or downloaded an item (the caller then streams its bytes or opens it in a page;
    `via` says which page, e.g. "studio"; `grant` what let a person without the dataset's scope read it, e.g.
    "work item 12")."""
    metadata = {"dataset_id": item.dataset_id, "classification": item.dataset.classification}
    if via:
        metadata["via"] = via
    if grant:
        metadata["grant"] = grant
    audit_record(org=org, actor=actor, action="item.downloaded" if download else "item.viewed", target=item,
                 metadata=metadata)


def item_metadata_read(*, org, actor, item: Item, via: str) -> None:
    """Records that someone read an item's record (name, folder, metadata: it may name the data subject) without
    its bytes: the item page, `GET /api/v1/items/<id>/`."""
    item_content_read(org=org, actor=actor, item=item, via=via)


def item_thumbnail_read(*, org, actor, item: Item) -> None:
    """A thumbnail is the item's content in small. Recorded where listings are (personal and health data): a
    browser grid fetches one per item shown, and the listing itself is recorded with their ids."""
    if item.dataset.classification in (Dataset.Classification.PERSONAL, Dataset.Classification.HEALTH):
        item_content_read(org=org, actor=actor, item=item, via="thumbnail")


def item_annotations_read(*, org, actor, item: Item, via: str) -> None:
    """An item's annotations (shapes, labels, transcriptions) are data about its subject too: reads of them are
    recorded where listings are (personal and health data), as `annotations.viewed` on the item."""
    if item.dataset.classification in (Dataset.Classification.PERSONAL, Dataset.Classification.HEALTH):
        audit_record(org=org, actor=actor, action="annotations.viewed", target=item,
                     metadata={"dataset_id": item.dataset_id, "classification": item.dataset.classification,
                               "via": via})


def items_listed(*, org, actor, dataset: Dataset, item_ids: list[int]) -> None:
    """A page listing items of personal or health data is itself a read worth recording."""
    if dataset.classification in (Dataset.Classification.PERSONAL, Dataset.Classification.HEALTH) and item_ids:
        audit_record(org=org, actor=actor, action="items.listed", target=dataset,
                     metadata={"item_ids": item_ids, "classification": dataset.classification})
