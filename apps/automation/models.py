from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.tenancy.base import TenantOwnedModel


class TaskType(models.TextChoices):
    CLASSIFICATION = "classification", "Classification"
    DETECTION = "detection", "Detection"
    SEGMENTATION = "segmentation", "Segmentation"
    EMBEDDING = "embedding", "Embedding"


class Model(TenantOwnedModel):
    """A model in the registry: a name, what it does, and (optionally) the recipe its labels come from. Its
    ONNX files are the ModelVersions."""

    name = models.CharField(max_length=200)
    task_type = models.CharField(max_length=16, choices=TaskType.choices)
    description = models.TextField(blank=True, max_length=5000)
    recipe = models.ForeignKey("recipes.Recipe", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    latest_version_number = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="model_name_unique_in_org")]

    def __str__(self) -> str:
        return self.name


class ModelVersion(TenantOwnedModel):
    """One registered ONNX file with how to feed it and read it. Immutable: the database refuses UPDATE.

    Only files that passed every check (format, onnx.checker, inputs/outputs against the decoder, a trial run)
    are registered, so `status` is `ready`; a refused upload is answered 4xx and audited, and leaves no row.
    """

    class Status(models.TextChoices):
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    blob = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    input_spec = models.JSONField(help_text="size, resize, layout, color, mean, std, scale (runtime/spec.py).")
    decoder = models.JSONField(help_text="{kind, ...parameters} (runtime/spec.py).")
    label_map = models.JSONField(default=dict, blank=True, help_text='{"<class index>": "<label name>"}')
    recipe_version = models.ForeignKey("recipes.RecipeVersion", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="+", help_text="The labels the label map names.")
    signature = models.JSONField(default=dict, help_text="The model's inputs and outputs, and its batch size.")
    notes = models.TextField(blank=True, max_length=10_000)
    metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.READY)
    status_message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "number"], name="modelversion_unique_number")]
        indexes = [models.Index(fields=["organization", "model", "-number"], name="modelversion_org_model")]

    def __str__(self) -> str:
        return f"{self.model_id} v{self.number}"


class PreAnnotation(TenantOwnedModel):
    """Which annotations one model version last proposed on one item: a re-run replaces exactly these (those
    nobody accepted since), so running twice never duplicates suggestions."""

    item = models.ForeignKey("datasets.Item", on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    annotation_ids = models.JSONField(default=list)
    provider = models.CharField(max_length=64, blank=True, help_text="The onnxruntime provider that ran.")
    runs = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "model_version"], name="preannotation_unique")]
        indexes = [models.Index(fields=["organization", "model_version", "item"], name="preannotation_org_version")]

    def __str__(self) -> str:
        return f"{self.model_version_id} on {self.item_id}"


class SuggestionOutcome(TenantOwnedModel):
    """What people did with one model suggestion (agreement.py derives it from the saves, never from the client's
    word): kept unchanged, kept after an edit, or left out; or, with no suggestion, a shape people drew that the
    version did not suggest (a miss, for recall). One row per (suggestion, layer), or per (version, missed
    annotation): saving again updates that row rather than adding one."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted unchanged"
        EDITED = "edited", "Accepted after an edit"
        REJECTED = "rejected", "Rejected"
        MISSED = "missed", "Missed (drawn by a person, not suggested)"

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey("datasets.Item", on_delete=models.CASCADE, related_name="+")
    # A unit of work's layer, or empty for the item's shared annotations.
    layer = models.BigIntegerField(null=True, blank=True)
    # Plain ids, so the record outlives a deleted annotation: the suggestion (none for a miss) and the person's
    # final annotation (the kept suggestion, or the missed shape; none once rejected).
    suggestion_id = models.BigIntegerField(null=True, blank=True)
    annotation_id = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    suggested = models.JSONField(default=dict, blank=True, help_text="The suggestion as the model made it.")
    final = models.JSONField(default=dict, blank=True, help_text="What people kept (empty once rejected).")
    iou = models.FloatField(null=True, blank=True, help_text="Suggested vs kept shape (edited shapes).")
    label_changed = models.BooleanField(default=False)
    attributes_changed = models.BooleanField(default=False)
    geometry_changed = models.BooleanField(default=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    resolved_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "suggestion_id"], name="suggestionoutcome_unique_shared",
                                    condition=models.Q(suggestion_id__isnull=False, layer__isnull=True)),
            models.UniqueConstraint(fields=["organization", "suggestion_id", "layer"],
                                    condition=models.Q(suggestion_id__isnull=False, layer__isnull=False),
                                    name="suggestionoutcome_unique_layer"),
            models.UniqueConstraint(fields=["organization", "model_version", "annotation_id"],
                                    condition=models.Q(outcome="missed"), name="suggestionoutcome_unique_miss"),
        ]
        indexes = [models.Index(fields=["organization", "model_version", "resolved_at"],
                                name="suggestionoutcome_org_version"),
                   models.Index(fields=["organization", "item", "layer"], name="suggestionoutcome_org_item")]

    def __str__(self) -> str:
        return f"{self.outcome} {self.suggestion_id or self.annotation_id} ({self.model_version_id})"


class Pipeline(TenantOwnedModel):
    """A graph of nodes over one dataset: `graph` = {"nodes": [{id, type, config}], "edges": [{from, to, when?}]},
    checked by pipelines.validate_graph before it is saved or run."""

    name = models.CharField(max_length=200)
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="+")
    graph = models.JSONField(default=dict)
    enabled = models.BooleanField(default=True)
    # Signs what its webhook nodes send (HMAC-SHA256), sealed with the organisation's key; shown once, in the create
    # or rotate answer (webhook_secrets.py). The previous one signs beside it until previous_until after a rotation.
    webhook_secret_sealed = models.BinaryField(default=b"", editable=False)
    webhook_secret_previous_sealed = models.BinaryField(default=b"", editable=False)
    webhook_secret_previous_until = models.DateTimeField(null=True, blank=True)
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True)
    # A schedule trigger's next firing (UTC), kept by pipeline_triggers; null for the other trigger kinds.
    next_fire_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="pipeline_name_unique_in_org")]
        indexes = [models.Index(fields=["next_fire_at"], condition=models.Q(next_fire_at__isnull=False),
                                name="pipeline_next_fire")]

    def __str__(self) -> str:
        return self.name


class PipelineRun(TenantOwnedModel):
    """One firing of a pipeline's trigger over a set of items. The graph is copied at the start, so editing the
    pipeline never changes a run under way."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Finished with failures"

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="runs")
    graph = models.JSONField()
    trigger = models.JSONField(default=dict, help_text="How it was fired: {kind, item_ids | query}.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    item_count = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True, help_text="What the run made once finished (versions).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "pipeline", "-started_at"], name="pipelinerun_org_pipeline")]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.pipeline_id}"


class NodeRun(TenantOwnedModel):
    """One node of a run on one item. (run, node, item) is unique: a redelivered message finds its row and a
    duplicate cannot exist."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        WAITING = "waiting", "Waiting for people"  # a human_task node with wait: until the item's units are done

    run = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="node_runs")
    node_id = models.CharField(max_length=64)
    node_type = models.CharField(max_length=32)
    item = models.ForeignKey("datasets.Item", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "node_id", "item"], name="noderun_unique")]
        indexes = [models.Index(fields=["organization", "run", "node_id", "status"], name="noderun_org_run_node")]

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return int((self.finished_at - self.started_at).total_seconds() * 1000)

    def __str__(self) -> str:
        return f"{self.node_id} on {self.item_id}"


class TriggeredItem(TenantOwnedModel):
    """An item that fired a pipeline's item-added trigger. (pipeline, item) is unique, so a repeated notice for the
    same item records nothing new; `run` stays empty until a run takes the item, and a run takes only empty ones, so
    one item starts at most one run of a pipeline however often it is announced."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey("datasets.Item", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(PipelineRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pipeline", "item"], name="triggereditem_unique")]
        indexes = [models.Index(fields=["organization", "pipeline", "run"], name="triggereditem_org_pipeline")]

    def __str__(self) -> str:
        return f"{self.item_id} for {self.pipeline_id}"
