from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from apps.core.jobs import JobStatus
from apps.tenancy.base import TenantOwnedModel


class SubjectCategory(models.TextChoices):
    """Categories of data subjects (GDPR art. 30(1)(c)): whom a dataset's items are about."""

    CUSTOMERS = "customers", "Customers"
    EMPLOYEES = "employees", "Employees"
    PATIENTS = "patients", "Patients"
    CHILDREN = "children", "Children"
    PUBLIC = "public", "Members of the public"
    OTHER = "other", "Other"


SUBJECT_CATEGORIES = tuple(SubjectCategory.values)


def validate_subject_categories(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("A list of categories of data subjects.")
    unknown = sorted(set(value) - set(SUBJECT_CATEGORIES))
    if unknown:
        raise ValidationError(f"Unknown categories {', '.join(map(repr, unknown))}; choose from "
                              f"{', '.join(SUBJECT_CATEGORIES)}.")


def normalise_subject_categories(value) -> list[str]:
    """Each category once, in the vocabulary's order."""
    return [c for c in SUBJECT_CATEGORIES if c in set(value or [])]


class Dataset(TenantOwnedModel):
    class Classification(models.TextChoices):
        PUBLIC = "public", "Public"
        INTERNAL = "internal", "Internal"
        PERSONAL = "personal", "Personal data"
        HEALTH = "health", "Health data"

    SubjectCategory = SubjectCategory

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    classification = models.CharField(max_length=16, choices=Classification.choices, default=Classification.INTERNAL)
    retention_days = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: kept until deleted.")
    # While on, nothing of the dataset is purged by retention or erased by a GDPR request (apps/datasets/retention.py).
    legal_hold = models.BooleanField(default=False, db_default=False)
    legal_hold_reason = models.TextField(blank=True, default="", max_length=2000)
    # Why the data is processed, as the processing register (GDPR art. 30, apps/compliance/console.py) states it.
    purpose = models.TextField(blank=True, default="", max_length=2000)
    # The item metadata key whose value names the data subject (e.g. "patient_id"), so GDPR access and erasure
    # requests find a person's items (apps/compliance/gdpr.py). Blank: the items name no subject.
    subject_key = models.CharField(
        max_length=100, blank=True, default="",
        help_text="Item metadata key naming the data subject (e.g. patient_id); blank for none.",
    )
    # Whom the items are about, from SubjectCategory (the processing register's "categories of data subjects").
    subject_categories = models.JSONField(default=list, blank=True, validators=[validate_subject_categories])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="dataset_name_unique_in_org")]
        indexes = [models.Index(fields=["organization", "-created_at"], name="dataset_org_created")]
        permissions = [("view_dataset_items", "Can browse this dataset's items"),
                       ("change_dataset_items", "Can add and change this dataset's items")]

    def __str__(self) -> str:
        return self.name


class Folder(TenantOwnedModel):
    """A virtual folder ("/train/cats"). Items carry their folder path; this lists empty folders too."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="folders")
    path = models.CharField(max_length=1000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "path"], name="folder_unique_path")]

    def __str__(self) -> str:
        return self.path


class Item(TenantOwnedModel):
    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        AUDIO = "audio", "Audio"
        TEXT = "text", "Text"
        POINTCLOUD = "pointcloud", "Point cloud"
        DICOM = "dicom", "DICOM"

    class Status(models.TextChoices):
        READY = "ready", "Ready"
        PENDING = "pending", "Waiting for content"
        FAILED = "failed", "Content could not be fetched"

    # Single-column indexes on these keys would only repeat the composite ones below (which lead with
    # them) and slow bulk ingest: every index is paid on each inserted row.
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="items", db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=500)
    folder = models.CharField(max_length=1000, default="/", db_default="/")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY, db_default=Status.READY)
    size = models.BigIntegerField(null=True, blank=True)
    mime = models.CharField(max_length=127, blank=True, db_default="")
    sha256 = models.CharField(max_length=64, blank=True, db_default="")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds, for audio and video.")
    metadata = models.JSONField(default=dict, db_default={}, blank=True)
    source_url = models.CharField(max_length=2000, blank=True, db_default="", help_text="Where the content comes from.")
    error = models.TextField(blank=True, db_default="")
    blob = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    thumbnail = models.ForeignKey("storage.Blob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # created_by keeps its database constraint although its trigger costs ~3.5 s per million imported rows: users
    # are global, so a deletion made outside an organisation's context cannot see (under row-level security) the
    # items it would have to clear, and only the constraint, which RLS does not hide rows from, refuses it.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    # No database constraint: its trigger would check each of a manifest's million rows. A job and its items
    # share one organisation, so whatever can see the job to delete it (its organisation's context, or the
    # system's) sees its items too, and on_delete clears them through Django's collector.
    import_job = models.ForeignKey(
        "ImportJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False,
        db_constraint=False, help_text="The import that created the item, while its content is being fetched.",
    )

    class Meta:
        indexes = [
            models.Index(fields=["import_job", "id"], condition=models.Q(status="pending"), name="item_pending_by_job"),
            models.Index(fields=["organization", "dataset", "id"], name="item_org_dataset_id"),
            models.Index(fields=["dataset", "created_at", "id"], name="item_dataset_created"),
            models.Index(fields=["dataset", "name", "id"], name="item_dataset_name"),
            models.Index(fields=["dataset", "folder", "id"], name="item_dataset_folder"),
            models.Index(fields=["dataset", "size", "id"], name="item_dataset_size"),
            models.Index(fields=["dataset", "kind", "id"], name="item_dataset_kind"),
            GinIndex(fields=["metadata"], name="item_metadata_gin", opclasses=["jsonb_path_ops"]),
        ]

    def __str__(self) -> str:
        return self.name


class SavedFilter(TenantOwnedModel):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="saved_filters")
    name = models.CharField(max_length=200)
    filter = models.JSONField(default=dict)
    sort = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="savedfilter_unique_name")]

    def __str__(self) -> str:
        return self.name


class ImportJob(TenantOwnedModel):
    """A background intake (uploaded zip, URL list, manifest) with progress and a per-row error report."""

    class Source(models.TextChoices):
        FILES = "files", "Uploaded files"
        ZIP = "zip", "Zip archive"
        URLS = "urls", "List of URLs"
        MANIFEST = "manifest", "Manifest (CSV or JSONL)"

    Status = JobStatus

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="imports")
    source = models.CharField(max_length=16, choices=Source.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    folder = models.CharField(max_length=1000, default="/")
    upload = models.ForeignKey("storage.Blob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "dataset", "-created_at"], name="importjob_org_dataset")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} into {self.dataset_id} ({self.status})"


class ImportRowError(TenantOwnedModel):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveIntegerField(help_text="1-based row, line or archive entry number.")
    reference = models.CharField(max_length=1000, blank=True, help_text="The file name, URL or key of the row.")
    message = models.CharField(max_length=1000)

    class Meta:
        indexes = [models.Index(fields=["job", "row"], name="importrowerror_job_row")]

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


class DatasetVersion(TenantOwnedModel):
    """An immutable snapshot of a dataset's items and what other apps attach to them (annotations, the recipe
    versions they pin), written as one Parquet file per section in the organisation's storage (versions.py).

    Only `building` rows change: the build turns them `ready` or `failed`, and from then on the database refuses
    any UPDATE (except the author's erasure, and withdrawing a ready version whose files held erased data). A
    withdrawn version can be regenerated: a new version, built without the erased data, names it in
    `regenerated_from`.
    Versions are what models train on.
    """

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        WITHDRAWN = "withdrawn", "Withdrawn"

    # The (dataset, number) unique index serves lookups by dataset: no index of its own.
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions", db_index=False)
    number = models.PositiveIntegerField(help_text="1, 2, 3, ... per dataset.")
    message = models.CharField(max_length=2000)
    filter = models.JSONField(default=dict, blank=True, help_text="The query the version was made of; {} for all.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    item_count = models.PositiveBigIntegerField(default=0)
    annotation_count = models.PositiveBigIntegerField(default=0)
    sections = models.JSONField(
        default=dict, blank=True,
        help_text='{"items": {"blob": <Blob id>, "rows": n, "bytes": n, "sha256": hex}, "annotations": {...}}',
    )
    checksum = models.CharField(
        max_length=64, blank=True,
        help_text='sha256 of the lines "<section> <sha256 of its Parquet file>\\n", sections sorted by name.',
    )
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Withdrawn (ready -> withdrawn, the one change allowed after the build): its files held erased data (GDPR
    # art. 17); they are deleted and its downloads answer 410.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True, default="")
    withdrawn_by_request = models.ForeignKey("compliance.DataSubjectRequest", on_delete=models.DO_NOTHING,
                                             db_constraint=False, null=True, blank=True, related_name="+")
    # What of its files was still there when it was withdrawn, kept so it can be regenerated without the erased
    # data (version_regeneration.py): per section a Parquet file of row keys (and the annotation versions), e.g.
    # {"items": {"blob": <Blob id>, "rows": n}, "annotations": {...}}; {} when nothing could be kept.
    withdrawn_membership = models.JSONField(default=dict, blank=True)
    # Set on a version regenerated from a withdrawn one (the one it replaces); the withdrawn row itself never
    # changes, so "replaced by" is read from here.
    regenerated_from = models.ForeignKey("self", on_delete=models.DO_NOTHING, db_constraint=False, null=True,
                                         blank=True, related_name="+")
    notes = models.TextField(blank=True, default="", help_text="How the version was made, where that needs saying "
                                                               "(a regenerated version: what it was built from).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="datasetversion_unique_number"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="datasetversion_number_positive"),
        ]
        indexes = [models.Index(fields=["organization", "dataset", "-number"], name="datasetversion_org_dataset")]

    def __str__(self) -> str:
        return f"{self.dataset_id} v{self.number}"
