"""Regenerating a dataset version that was withdrawn because its files held erased data (GDPR art. 17).

A regeneration is a new version (the next number) that names the withdrawn one in `regenerated_from`, with the
same filter, built from what the withdrawn version held minus what is no longer there:

- Withdrawn with its membership kept (version_membership.py, written by dataset_version_withdraw before the
  files were deleted): its items that still exist (the erased ones were already gone when it was withdrawn), and
  its annotations as it captured them, restored from their revision history (AnnotationRevision keeps every
  state of every annotation, by (id, version)). Item rows (name, folder, metadata) are as they are now: items
  keep no history.
- Withdrawn before memberships were kept (or when keeping it failed): the items matching its filter that were
  created by the time it was built and remain, with their annotations as they are now.

Which of the two, and what could not be restored, is written in the new version's `notes` and audited
(`dataset_version.regenerated`). The withdrawn row never changes (the database refuses it): "replaced by" is the
newest regeneration that did not fail.
"""

import logging
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pyarrow.parquet as pq
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery

from apps.compliance.services import audit_record
from apps.core.errors import ConflictError
from apps.core.outbox import enqueue
from apps.tenancy.permissions import require_scope

from . import version_membership, versions
from .models import DatasetVersion, Item

logger = logging.getLogger(__name__)

Status = DatasetVersion.Status


# --- Reads ---------------------------------------------------------------------------------------


def replacement_of(version: DatasetVersion) -> DatasetVersion | None:
    """The newest version regenerated from this one that did not fail (building, ready, or itself withdrawn)."""
    return (DatasetVersion.objects.for_org(version.organization_id).filter(regenerated_from_id=version.pk)
            .exclude(status=Status.FAILED).order_by("-number").first())


def with_lineage(versions_qs: QuerySet[DatasetVersion], *, org) -> QuerySet[DatasetVersion]:
    """Each version with the one it was regenerated from and (replaced_by_pk, replaced_by_number) of the one that
    replaces it, in the same query."""
    later = (DatasetVersion.objects.for_org(org).filter(regenerated_from_id=OuterRef("pk"))
             .exclude(status=Status.FAILED).order_by("-number"))
    return versions_qs.select_related("regenerated_from").annotate(
        replaced_by_pk=Subquery(later.values("pk")[:1]), replaced_by_number=Subquery(later.values("number")[:1]))


# --- Keeping the membership at withdrawal --------------------------------------------------------


def membership_keep(version: DatasetVersion) -> dict:
    """Writes what of the version's files is still there (version_membership.py) as blobs, for a regeneration;
    called by the withdrawal while the files still exist. {} (and logged) when it cannot: regeneration then falls
    back to the version's filter."""
    from apps.storage.models import Blob
    from apps.storage.services import blob_delete, blob_open, blob_put

    org_id = version.organization_id
    items = Item.objects.for_org(org_id).filter(dataset_id=version.dataset_id)

    def present(ids: list[int]) -> set[int]:
        return set(items.filter(pk__in=ids).values_list("pk", flat=True))

    stored = {}
    try:
        with transaction.atomic(), ExitStack() as stack:
            sources = {}
            for name, entry in version.sections.items():
                blob = Blob.objects.for_org(org_id).filter(pk=entry.get("blob")).first()
                if blob is not None:
                    sources[name] = pq.ParquetFile(stack.enter_context(blob_open(blob)))
            if versions.ITEMS not in sources:
                raise ValidationError("the items file is no longer stored")
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dataset-version-kept-")))
            written = version_membership.write_membership(sources=sources, directory=directory, present=present)
            for name, path in written.files.items():
                with open(path, "rb") as stream:
                    stored[name] = blob_put(org=org_id, stream=stream, mime=versions.PARQUET_MIME)
    except Exception:
        logger.exception("The membership of dataset version %s could not be kept", version.pk)
        for blob in stored.values():
            blob_delete(blob)  # its row went with the savepoint; this removes the bytes once the caller commits
        return {}
    return {name: {"blob": blob.pk, "rows": written.rows[name]} for name, blob in stored.items()}


def _membership_release(version: DatasetVersion) -> None:
    """Deletes a withdrawn version's kept membership once a regeneration of it is built: nothing needs it then."""
    from apps.storage.models import Blob
    from apps.storage.services import blob_delete

    ids = [entry["blob"] for entry in (version.withdrawn_membership or {}).values() if entry.get("blob")]
    for blob in Blob.objects.for_org(version.organization_id).filter(pk__in=ids):
        blob_delete(blob)


# --- Regenerating --------------------------------------------------------------------------------


def _basis_notes(version: DatasetVersion) -> tuple[str, str]:
    """("kept_membership" or "filter", the notes saying what the regeneration is built from)."""
    n, kept = version.number, version.withdrawn_membership or {}
    when = f"withdrawn on {version.withdrawn_at:%Y-%m-%d}" if version.withdrawn_at else "withdrawn"
    opening = f"Regenerated from version {n} ({when}: {version.withdrawn_reason or 'its files held erased data.'})"
    if versions.ITEMS in kept:
        pinned = [name for name in kept if name != versions.ITEMS]
        restored = (f" {', '.join(pinned).capitalize()}: as version {n} captured them, restored from their "
                    "revision history." if pinned else "")
        return "kept_membership", (
            f"{opening} Items: the {kept[versions.ITEMS]['rows']:,} that version {n} still held when it was "
            "withdrawn (the erased ones left out), less any deleted since; their names, folders and metadata as "
            f"they are now.{restored}")
    until = f"{version.finished_at:%Y-%m-%d %H:%M} UTC" if version.finished_at else "then"
    return "filter", (
        f"{opening} Version {n} was withdrawn before versions kept their list of items, so this one holds the items "
        f"matching its filter that were created by {until} and remain (the erased ones are gone), and their "
        f"annotations as they are now, not as version {n} captured them.")


def dataset_version_regenerate(*, org, actor, version: DatasetVersion) -> DatasetVersion:
    """Numbers a new version built from a withdrawn one without the erased data, and queues its build."""
    from . import version_services
    from .tasks import build_dataset_version

    require_scope(org=org, actor=actor, scope="dataset.version", obj=version.dataset)
    version = DatasetVersion.objects.for_org(org).select_related("dataset").get(pk=version.pk)
    if version.status != Status.WITHDRAWN:  # once withdrawn, always withdrawn: no lock needed to know it
        raise ConflictError(f"Version {version.number} is {version.get_status_display().lower()}: only a "
                            "withdrawn version (one whose files held erased data) can be regenerated.")
    with transaction.atomic():
        number = version_services.version_number_next(org=org, dataset=version.dataset)  # locks the dataset
        replacement = replacement_of(version)
        if replacement is not None:
            raise ConflictError(f"Version {version.number} was already regenerated as version {replacement.number} "
                                f"({replacement.get_status_display().lower()}).")
        basis, notes = _basis_notes(version)
        message = f"Regenerated from version {version.number}: {version.message}"[:version_services.MAX_MESSAGE]
        regenerated = DatasetVersion.objects.create(
            organization_id=org.pk, dataset=version.dataset, number=number, message=message, filter=version.filter,
            created_by=actor, regenerated_from=version, notes=notes,
        )
        audit_record(org=org, actor=actor, action="dataset_version.regenerated", target=regenerated,
                     before={"version": version.pk, "number": version.number, "status": version.status},
                     after={"version": regenerated.pk, "number": number, "filter": version.filter},
                     metadata={"dataset_id": version.dataset_id, "regenerated_from": version.pk, "basis": basis,
                               "withdrawn_by_request": version.withdrawn_by_request_id})
        enqueue(build_dataset_version, org.pk, regenerated.pk)
        version_services.broadcast(regenerated)
    return regenerated


# --- Building it ---------------------------------------------------------------------------------


@contextmanager
def build_source(version: DatasetVersion):
    """write_manifest's extra arguments for this version: {} for an ordinary one; for a regeneration the kept
    membership (opened) or, without one, the moment that bounds its filter's items."""
    from apps.storage.models import Blob
    from apps.storage.services import blob_open

    if version.regenerated_from_id is None:
        yield {}
        return
    source = DatasetVersion.objects.for_org(version.organization_id).filter(pk=version.regenerated_from_id).first()
    if source is None:
        raise ValidationError(f"The version it regenerates (id {version.regenerated_from_id}) no longer exists.")
    kept = source.withdrawn_membership or {}
    if versions.ITEMS not in kept:
        yield {"items_until": source.finished_at or source.created_at}
        return
    with ExitStack() as stack:
        files = {}
        for name, entry in kept.items():
            blob = Blob.objects.for_org(version.organization_id).filter(pk=entry["blob"]).first()
            if blob is None:
                raise ValidationError(f"The {name} kept from version {source.number} is no longer stored.")
            files[name] = pq.ParquetFile(stack.enter_context(blob_open(blob)))
        yield {"membership": version_membership.read_membership(files)}


def built_notes(version: DatasetVersion, written: versions.WrittenManifest) -> str:
    """The notes once built: what each pinned section restored and what it could not."""
    extra = []
    for name, counts in written.pinned.items():
        line = f"{counts.get('restored', 0):,} {name} restored as captured"
        if counts.get("missing"):
            line += (f"; {counts['missing']:,} could not be (no record of the captured state remains) and were "
                     "left out")
        extra.append(line + ".")
    return " ".join([version.notes, *extra]).strip()


def regeneration_built(version: DatasetVersion) -> None:
    """After the build of a regeneration committed its files: the kept membership is no longer needed."""
    if version.regenerated_from_id is None:
        return
    source = DatasetVersion.objects.for_org(version.organization_id).filter(pk=version.regenerated_from_id).first()
    if source is not None:
        _membership_release(source)
