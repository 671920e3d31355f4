from dataclasses import dataclass

from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from apps.tenancy.permissions import actor_role
from apps.tenancy.roles import role_has_scope

from .models import Dataset, ImportJob, ImportRowError, Item, SavedFilter


def dataset_list(*, org, actor) -> QuerySet[Dataset]:
    """Every dataset for roles that see them all; otherwise only the datasets granted to the actor."""
    qs = Dataset.objects.for_org(org).order_by("-created_at", "-id")
    if role_has_scope(actor_role(org=org, actor=actor) or "", "dataset.view"):
        return qs
    return get_objects_for_user(actor, "datasets.view_dataset_items", klass=qs, accept_global_perms=False)


def item_list(*, dataset: Dataset) -> QuerySet[Item]:
    return Item.objects.for_org(dataset.organization_id).filter(dataset=dataset)


def item_list_by_ids(*, dataset: Dataset, ids) -> QuerySet[Item]:
    """A selection: the dataset's items with these ids (ids of other datasets simply match nothing)."""
    return item_list(dataset=dataset).filter(pk__in=list(ids))


MAX_FOLDERS = 10_000

# A "loose index scan": each step seeks the next distinct folder in the (dataset, folder, id) index,
# so listing a few hundred folders of a million-item dataset costs a few hundred index probes, not a
# scan of every item. Row-level security still applies to every probe.
_DISTINCT_FOLDERS_SQL = f"""
WITH RECURSIVE folders(path, n) AS (
    (SELECT folder, 1 FROM {Item._meta.db_table} WHERE organization_id = %(org)s AND dataset_id = %(ds)s
     ORDER BY folder LIMIT 1)
    UNION ALL
    SELECT (SELECT i.folder FROM {Item._meta.db_table} i
            WHERE i.organization_id = %(org)s AND i.dataset_id = %(ds)s AND i.folder > folders.path
            ORDER BY i.folder LIMIT 1), n + 1
    FROM folders WHERE folders.path IS NOT NULL AND n < %(cap)s
)
SELECT path FROM folders WHERE path IS NOT NULL
"""


def folder_paths(*, dataset: Dataset) -> list[str]:
    """The dataset's folders: the declared ones and those that items sit in (at most MAX_FOLDERS)."""
    from django.db import connection

    from .models import Folder

    declared = set(
        Folder.objects.for_org(dataset.organization_id).filter(dataset=dataset).values_list("path", flat=True)
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            params = {"org": dataset.organization_id, "ds": dataset.pk, "cap": MAX_FOLDERS}
            cursor.execute(_DISTINCT_FOLDERS_SQL, params)
            used = {row[0] for row in cursor.fetchall()}
    else:
        used = set(item_list(dataset=dataset).order_by().values_list("folder", flat=True).distinct()[:MAX_FOLDERS])
    return sorted(declared | used)


def import_job_list(*, dataset: Dataset) -> QuerySet[ImportJob]:
    return ImportJob.objects.for_org(dataset.organization_id).filter(dataset=dataset).order_by("-created_at", "-id")


def import_row_errors(*, job: ImportJob) -> QuerySet[ImportRowError]:
    return ImportRowError.objects.for_org(job.organization_id).filter(job=job).order_by("row", "id")


def saved_filter_list(*, dataset: Dataset) -> QuerySet[SavedFilter]:
    return SavedFilter.objects.for_org(dataset.organization_id).filter(dataset=dataset).order_by("name")


@dataclass(frozen=True)
class ItemQueryResult:
    items: list
    next_cursor: str | None
    count: int | None
    count_exact: bool


def _as_validation_error(exc):
    from django.core.exceptions import ValidationError

    return ValidationError({exc.path: [exc.message]})


def item_filter(*, dataset: Dataset, filter: dict | None) -> QuerySet[Item]:
    """The dataset's items matching a query-language filter; a bad query is a ValidationError naming its path."""
    from .query import QueryError, compile_filter

    try:
        return item_list(dataset=dataset).filter(compile_filter(filter or {}))
    except QueryError as exc:
        raise _as_validation_error(exc) from None


def item_query(*, dataset: Dataset, filter: dict | None = None, sort: list | None = None, page_size: int = 100,
               cursor: str | None = None, count: bool | None = None) -> ItemQueryResult:
    """One keyset page of the dataset's items matching the filter. `count` defaults to the first page only."""
    from .pagination import fast_count, keyset_page
    from .query import QueryError, parse_sort

    qs = item_filter(dataset=dataset, filter=filter)
    try:
        sort_keys = parse_sort(sort or [])
        page = keyset_page(qs, sort=sort_keys, cursor=cursor or None, page_size=page_size)
    except QueryError as exc:
        raise _as_validation_error(exc) from None
    if count is None:
        count = not cursor
    total, exact = fast_count(qs) if count else (None, False)
    return ItemQueryResult(items=list(page.items), next_cursor=page.next_cursor, count=total, count_exact=exact)


def item_get(*, org_id: int, item_id: int) -> Item | None:
    return Item.objects.for_org(org_id).select_related("organization", "dataset", "blob").filter(pk=item_id).first()


def import_job_get(*, org_id: int, job_id: int) -> ImportJob | None:
    return ImportJob.objects.for_org(org_id).select_related("organization", "upload").filter(pk=job_id).first()


def dataset_get(*, org_id: int, dataset_id: int) -> Dataset | None:
    return Dataset.objects.for_org(org_id).select_related("organization").filter(pk=dataset_id).first()


def member_user_get(*, org_id: int, user_id: int | None):
    """The user, if still a member of the organisation (jobs act for people who may have left)."""
    from apps.tenancy.models import Membership

    if user_id is None:
        return None
    membership = Membership.objects.for_org(org_id).select_related("user").filter(user_id=user_id).first()
    return membership.user if membership else None


def item_next(*, org, item: Item) -> Item | None:
    """The dataset's next item by id (what the studio preloads and offers as "Next item"), or None at the end."""
    return (Item.objects.for_org(org).filter(dataset_id=item.dataset_id, pk__gt=item.pk)
            .select_related("dataset").order_by("pk").first())
