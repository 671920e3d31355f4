from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.jobs import JobStatus
from apps.tenancy.base import TenantOwnedModel


class AnnotationType(models.TextChoices):
    CLASSIFICATION = "classification", "Classification"
    POINT = "point", "Point"
    KEYPOINTS = "keypoints", "Keypoint skeleton"
    BBOX = "bbox", "Box"
    ROTATED_BBOX = "rotated_bbox", "Rotated box"
    ELLIPSE = "ellipse", "Ellipse"
    POLYLINE = "polyline", "Polyline"
    POLYGON = "polygon", "Polygon"
    MASK = "mask", "Mask (RLE)"


class Source(models.TextChoices):
    HUMAN = "human", "Human"
    MODEL = "model", "Model"
    IMPORT = "import", "Import"


class Annotation(TenantOwnedModel):
    """One label on one item (and frame). Geometry is in the item's pixel coordinates (see geometry.py).

    `version` counts changes: a write names the version it read and a stale one is refused (409).
    Every change also appends an AnnotationRevision.
    """

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    item = models.ForeignKey("datasets.Item", on_delete=models.CASCADE, related_name="annotations", db_index=False)
    # Copied from the item, so exports and queries over a dataset need no join.
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="+", db_index=False)
    recipe_version = models.ForeignKey("recipes.RecipeVersion", on_delete=models.PROTECT, related_name="+",
                                       db_index=False)
    type = models.CharField(max_length=16, choices=AnnotationType.choices)
    label = models.CharField(max_length=200)
    attributes = models.JSONField(default=dict, blank=True)
    geometry = models.JSONField(null=True, blank=True)
    z_order = models.IntegerField(default=0)
    frame = models.PositiveIntegerField(default=0)
    # Empty: the item's shared annotations. Otherwise the private draft of one unit of work (a consensus slot or
    # a gold check), kept apart until it is merged or scored; the workforce app says who may use which layer.
    layer = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.HUMAN)
    # Model pre-annotations wait for a person: accepted turns them into ordinary annotations.
    review_state = models.CharField(max_length=10, default="", blank=True,
                                    help_text="'proposed' for a model suggestion not yet accepted.")
    confidence = models.FloatField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   related_name="+", db_index=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "item", "frame", "id"], name="annotation_org_item"),
            models.Index(fields=["organization", "layer"], condition=models.Q(layer__isnull=False),
                         name="annotation_org_layer"),
            models.Index(fields=["dataset", "label", "item"], name="annotation_dataset_label"),
            models.Index(fields=["dataset", "id"], name="annotation_dataset_id"),
            models.Index(fields=["recipe_version", "label"], name="annotation_version_label"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(version__gte=1), name="annotation_version_positive"),
            models.CheckConstraint(
                condition=models.Q(confidence__isnull=True) | models.Q(confidence__gte=0, confidence__lte=1),
                name="annotation_confidence_unit_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.label} on {self.item_id}"


class AnnotationRevision(TenantOwnedModel):
    """Append-only history: one row per change of an annotation (the database refuses UPDATE).

    `data` is the annotation's full state after the change (before it, for a deletion); `changed` names the
    fields that changed. The annotation id is kept as a plain number so the history outlives a deletion.
    """

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DELETED = "deleted", "Deleted"
        MIGRATED = "migrated", "Migrated to a new recipe version"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    item = models.ForeignKey("datasets.Item", on_delete=models.CASCADE, related_name="+", db_index=False)
    annotation_id = models.BigIntegerField()
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    data = models.JSONField()
    changed = models.JSONField(default=list)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                              db_index=False)
    request_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "item", "at"], name="annrev_org_item"),
        ]
        constraints = [models.UniqueConstraint(fields=["organization", "annotation_id", "version"],
                                              name="annrev_unique_version")]

    def __str__(self) -> str:
        return f"{self.annotation_id} v{self.version} {self.action}"


class LabelMigrationRun(TenantOwnedModel):
    """Moves annotations pinned to older versions of a recipe onto a newly published version, applying the
    version's migration map (rename, merge, split, delete). Previewed first, then run as a background job."""

    Status = JobStatus

    recipe = models.ForeignKey("recipes.Recipe", on_delete=models.CASCADE, related_name="+")
    to_version = models.ForeignKey("recipes.RecipeVersion", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    preview = models.JSONField(default=dict, help_text="What the run would change, computed when it was started.")
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    relabelled = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "recipe", "-created_at"], name="labelmigration_org_recipe")]

    def __str__(self) -> str:
        return f"{self.recipe_id} -> v{self.to_version_id} ({self.status})"


class ExportFormat(models.TextChoices):
    COCO = "coco", "COCO"
    YOLO = "yolo", "YOLO detection"
    YOLO_SEG = "yolo_seg", "YOLO segmentation"
    VOC = "voc", "Pascal VOC"
    NATIVE = "native", "Native JSON"


class ExportJob(TenantOwnedModel):
    """A dataset's annotations written to a file in the background (apps/annotations/exports.py), kept as an
    encrypted blob in the organisation's region and downloaded through the app (audited)."""

    Status = JobStatus

    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="+")
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    filter = models.JSONField(default=dict, blank=True, help_text="Query-language filter choosing the items.")
    include_revisions = models.BooleanField(default=False)
    region = models.CharField(max_length=20, blank=True,
                              help_text="Where the file is stored: blank for the organisation's region; another "
                                        "only under a recorded transfer basis (apps/compliance/transfers.py).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    items_total = models.PositiveIntegerField(default=0)
    items_done = models.PositiveIntegerField(default=0)
    annotations_done = models.PositiveIntegerField(default=0)
    annotations_skipped = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict, blank=True, help_text="Annotations the format cannot hold, by reason.")
    result = models.ForeignKey("storage.Blob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last progress of a running job.")
    finished_at = models.DateTimeField(null=True, blank=True)
    # Withdrawn: the file held data that was erased (GDPR art. 17); it is deleted and its download answers 410.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True, default="")
    withdrawn_by_request = models.ForeignKey("compliance.DataSubjectRequest", on_delete=models.DO_NOTHING,
                                             db_constraint=False, null=True, blank=True, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["organization", "dataset", "-created_at"], name="exportjob_org_dataset")]

    def __str__(self) -> str:
        return f"{self.format} export of {self.dataset_id} ({self.status})"


class AnnotationImportJob(TenantOwnedModel):
    """An uploaded annotation file applied to a dataset all or nothing (apps/annotations/imports.py): every row is
    checked first, and one error anywhere writes nothing; the errors are kept as a per-row report."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        REJECTED = "rejected", "Rejected: nothing imported"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="+")
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    filename = models.CharField(max_length=255, blank=True)
    upload = models.ForeignKey("storage.Blob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(default=0, help_text="Annotations read from the file.")
    items_matched = models.PositiveIntegerField(default=0)
    annotations_created = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{reference, message}], the first 1,000.")
    errors_total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "dataset", "-created_at"], name="annimport_org_dataset")]

    def __str__(self) -> str:
        return f"{self.format} import into {self.dataset_id} ({self.status})"
