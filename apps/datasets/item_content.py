"""Writes that change an item's content after intake: replace its bytes, or derive a new item from them.

Both store through apps/storage (blob_put, encrypted, under the data subject's key when the metadata names one),
render the thumbnail as intake does (make_item_thumbnail, queued on commit) and audit what changed. Used by the
automation pipelines' preprocess node (apps/automation/pipeline_preprocess.py).
"""

import io

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.compliance.services import audit_record
from apps.core.errors import ConflictError
from apps.core.outbox import enqueue
from apps.tenancy.permissions import require_scope

from .intake import max_item_bytes
from .item_hooks import items_added
from .metadata import normalise_folder, validate_metadata
from .models import Item


def _put(*, org, item: Item, data: bytes, mime: str):
    from apps.compliance.subject_keys import subject_key_for_item
    from apps.storage.services import blob_put

    return blob_put(org=org, stream=io.BytesIO(data), mime=mime, max_bytes=max_item_bytes(),
                    subject_key=subject_key_for_item(item))


def _thumbnail_later(item: Item) -> None:
    from .tasks import make_item_thumbnail

    enqueue(make_item_thumbnail, item.organization_id, item.pk)


def item_content_replace(*, org, actor, item: Item, data: bytes, mime: str, width: int, height: int,
                         name: str | None = None, action: str = "item.content_replaced",
                         metadata: dict | None = None) -> Item:
    """The item's content becomes `data`: the old content and thumbnail blobs are deleted (their ciphertext once
    this commits), a new thumbnail is queued. ConflictError when the content changed since `item` was read."""
    from apps.storage.services import blob_delete

    require_scope(org=org, actor=actor, scope="item.change", obj=item.dataset)
    blob = _put(org=org, item=item, data=data, mime=mime)
    try:
        with transaction.atomic():
            locked = Item.objects.for_org(org).select_related("blob", "thumbnail").select_for_update(
                of=("self",)).filter(pk=item.pk).first()
            if locked is None or locked.blob_id != item.blob_id:
                raise ConflictError("The item's content changed or the item was deleted meanwhile.")
            old = [b for b in (locked.blob, locked.thumbnail) if b is not None]
            before = {"name": locked.name, "mime": locked.mime, "size": locked.size, "sha256": locked.sha256,
                      "width": locked.width, "height": locked.height}
            locked.blob, locked.thumbnail, locked.mime, locked.size, locked.sha256 = blob, None, blob.mime, \
                blob.size, blob.sha256
            locked.width, locked.height = width, height
            if name:
                locked.name = name
            locked.save(update_fields=["blob", "thumbnail", "mime", "size", "sha256", "width", "height", "name"])
            for stale in old:
                blob_delete(stale)
            audit_record(org=org, actor=actor, action=action, target=locked, before=before,
                         after={k: getattr(locked, k) for k in before},
                         metadata={"dataset_id": locked.dataset_id, **(metadata or {})})
            _thumbnail_later(locked)
    except BaseException:
        blob_delete(blob)
        raise
    for f in Item._meta.concrete_fields:  # through setattr, so the cached blob and thumbnail are dropped
        setattr(item, f.attname, getattr(locked, f.attname))
    return item


def item_derive(*, org, actor, source: Item, data: bytes, mime: str, width: int, height: int, name: str,
                folder: str, metadata: dict, action: str = "item.derived", audit: dict | None = None) -> Item:
    """A new image item of the source's dataset in `folder`, holding `data` (the source is left as it is)."""
    from apps.storage.services import blob_delete

    require_scope(org=org, actor=actor, scope="item.change", obj=source.dataset)
    metadata = validate_metadata(metadata)
    folder = normalise_folder(folder)
    if not name or len(name) > 500:
        raise ValidationError({"name": "A name is 1 to 500 characters, without '/'."})
    item = Item(organization_id=org.pk, dataset=source.dataset, kind=Item.Kind.IMAGE, name=name, folder=folder,
                metadata=metadata, created_by=actor, width=width, height=height, status=Item.Status.READY)
    blob = _put(org=org, item=item, data=data, mime=mime)
    try:
        with transaction.atomic():
            item.blob, item.mime, item.size, item.sha256 = blob, blob.mime, blob.size, blob.sha256
            item.save(force_insert=True)
            audit_record(org=org, actor=actor, action=action, target=item,
                         after={"name": name, "folder": folder, "sha256": blob.sha256},
                         metadata={"dataset_id": source.dataset_id, "source_item_id": source.pk, **(audit or {})})
            _thumbnail_later(item)
            items_added(org_id=org.pk, dataset_id=source.dataset_id, item_ids=[item.pk])
    except BaseException:
        blob_delete(blob)
        raise
    return item
