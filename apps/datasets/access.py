"""Fetch and authorise one dataset or item; missing and forbidden are the same 404."""

from apps.core.ids import parse_id
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope

from .models import Dataset, ImportJob, Item, SavedFilter


def access_dataset(*, org, actor, dataset_id, scope: str = "dataset.view") -> Dataset:
    pk = parse_id(dataset_id)
    dataset = Dataset.objects.for_org(org).filter(pk=pk).first() if pk else None
    if dataset is None or not has_scope(org=org, actor=actor, scope=scope, obj=dataset):
        deny_not_found(org=org, actor=actor, target_type="datasets.dataset", target_id=dataset_id, scope=scope)
    return dataset


def access_item(*, org, actor, item_id, scope: str = "item.view") -> Item:
    pk = parse_id(item_id)
    item = Item.objects.for_org(org).select_related("dataset", "blob").filter(pk=pk).first() if pk else None
    if item is None or not has_scope(org=org, actor=actor, scope=scope, obj=item.dataset):
        deny_not_found(org=org, actor=actor, target_type="datasets.item", target_id=item_id, scope=scope)
    return item


def access_item_content(*, org, actor, item_id) -> tuple[Item, str]:
    """An item whose bytes the actor may read: by the dataset's `item.view`, or by what a registered content guard
    grants (apps/datasets/content_guards.py: the holder of a live unit of work on it). Returns (item, grant): the
    grant is "" for the dataset's scope, else the guard's words, recorded with the audited read."""
    from .content_guards import content_grant

    pk = parse_id(item_id)
    item = Item.objects.for_org(org).select_related("dataset", "blob").filter(pk=pk).first() if pk else None
    grant = None
    if item is not None:
        grant = "" if has_scope(org=org, actor=actor, scope="item.view", obj=item.dataset) else content_grant(
            org=org, actor=actor, item=item)
    if grant is None:
        deny_not_found(org=org, actor=actor, target_type="datasets.item", target_id=item_id, scope="item.view")
    return item, grant


def access_import_job(*, org, actor, job_id, scope: str = "item.change") -> ImportJob:
    pk = parse_id(job_id)
    job = ImportJob.objects.for_org(org).select_related("dataset").filter(pk=pk).first() if pk else None
    if job is None or not has_scope(org=org, actor=actor, scope=scope, obj=job.dataset):
        deny_not_found(org=org, actor=actor, target_type="datasets.importjob", target_id=job_id, scope=scope)
    return job


def access_saved_filter(*, org, actor, saved_filter_id, scope: str = "item.view") -> SavedFilter:
    pk = parse_id(saved_filter_id)
    saved = SavedFilter.objects.for_org(org).select_related("dataset").filter(pk=pk).first() if pk else None
    if saved is None or not has_scope(org=org, actor=actor, scope=scope, obj=saved.dataset):
        deny_not_found(org=org, actor=actor, target_type="datasets.savedfilter", target_id=saved_filter_id,
                       scope=scope)
    return saved
