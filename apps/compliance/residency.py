"""Where each kind of an organisation's data lives (the residency page and GET /api/v1/residency/).

Built from configuration (the region's storage backend, the regional work queues) and from the Blob table (which
region each stored object is in). Any blob outside the organisation's region is listed as a violation.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Count

from .transfers import transfer_basis_list

MAX_VIOLATIONS_LISTED = 50


@dataclass(frozen=True)
class Location:
    kind: str
    label: str
    region: str
    where: str
    objects: int | None = None
    by_region: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Violation:
    blob_id: int
    region: str
    created_at: object


@dataclass(frozen=True)
class Transfer:
    """A recorded legal basis for copies in another region, and how many objects are stored there now."""
    basis_id: int
    destination_region: str
    basis: str
    reference: str
    valid_from: object
    valid_until: object
    active: bool
    revoked_at: object
    objects: int


@dataclass(frozen=True)
class ResidencyReport:
    organization: str
    region: str
    locations: list[Location]
    blobs_by_region: dict[str, int]
    violation_count: int
    violations: list[Violation]
    transfers: list[Transfer] = field(default_factory=list)


def storage_location(region: str) -> str:
    """The backend holding a region's bytes, in words (never its credentials)."""
    kind = settings.STORAGE_BACKENDS.get(region)
    if kind == "s3":
        options = settings.STORAGE_S3.get(region, {})
        endpoint = options.get("endpoint_url") or "AWS S3"
        return f"S3 bucket {options.get('bucket_name', '')!r} at {endpoint}"
    if kind == "local":
        return f"Local directory {settings.STORAGE_ROOTS.get(region)}"
    return f"No storage backend is configured for region {region!r}"


def _blob_regions(org, blob_ids) -> dict[str, int]:
    from apps.storage.models import Blob

    rows = Blob.objects.for_org(org).filter(pk__in=blob_ids).values("region").annotate(n=Count("id"))
    return {r["region"]: r["n"] for r in rows.order_by("region")}


def residency_report(*, org) -> ResidencyReport:
    from apps.annotations.models import ExportJob
    from apps.core.queues import regional_queue
    from apps.datasets.models import DatasetVersion
    from apps.storage.models import Blob

    region = org.region
    export_blobs = ExportJob.objects.for_org(org).filter(result__isnull=False).values("result_id")
    version_blob_ids = [
        section["blob"]
        for sections in DatasetVersion.objects.for_org(org).values_list("sections", flat=True)
        for section in (sections or {}).values() if isinstance(section, dict) and section.get("blob")
    ]
    exports_by_region = _blob_regions(org, export_blobs)
    versions_by_region = _blob_regions(org, version_blob_ids)
    queues = ", ".join(regional_queue(base, region) for base in ("default", "gpu"))
    locations = [
        Location("items", "Item bytes and thumbnails", region, storage_location(region)),
        Location("database", "Item metadata, annotations, tasks and members", "primary",
                 f"The primary {connection.display_name} database of this deployment"),
        Location("queues", "Work queues (automation and pipelines)", region, f"Queues {queues}"),
        Location("exports", "Exports", region, storage_location(region),
                 objects=sum(exports_by_region.values()), by_region=exports_by_region),
        Location("dataset_versions", "Dataset versions", region, storage_location(region),
                 objects=sum(versions_by_region.values()), by_region=versions_by_region),
        Location("audit", "Audit trail", "primary",
                 f"Append-only, hash-chained table in the primary {connection.display_name} database"),
    ]
    blobs_by_region = {r["region"]: r["n"] for r in Blob.objects.for_org(org).values("region")
                       .annotate(n=Count("id")).order_by("region")}
    bases = list(transfer_basis_list(org=org))
    # Objects abroad under a current legal basis are transfers; any other object abroad is a violation.
    covered = {b.destination_region for b in bases if b.is_active()}
    outside = Blob.objects.for_org(org).exclude(region=region).exclude(region__in=covered)
    violations = [Violation(blob_id=pk, region=r, created_at=at) for pk, r, at in
                  outside.order_by("id").values_list("id", "region", "created_at")[:MAX_VIOLATIONS_LISTED]]
    transfers = [Transfer(basis_id=b.pk, destination_region=b.destination_region, basis=b.get_basis_display(),
                          reference=b.reference, valid_from=b.valid_from, valid_until=b.valid_until,
                          active=b.is_active(), revoked_at=b.revoked_at,
                          objects=blobs_by_region.get(b.destination_region, 0)) for b in bases]
    return ResidencyReport(organization=org.name, region=region, locations=locations,
                           blobs_by_region=blobs_by_region,
                           violation_count=sum(n for r, n in blobs_by_region.items()
                                               if r != region and r not in covered),
                           violations=violations, transfers=transfers)
