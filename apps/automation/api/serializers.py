from rest_framework import serializers

from apps.automation.models import Model, ModelVersion, Pipeline, PipelineRun, TaskType
from apps.automation.selectors import pipeline_author_is_member


class ModelOutput(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", default=None)

    class Meta:
        model = Model
        fields = ["id", "name", "task_type", "description", "recipe", "latest_version_number", "created_by",
                  "created_at"]
        read_only_fields = fields


class ModelInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    recipe_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class ModelVersionOutput(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", default=None)

    class Meta:
        model = ModelVersion
        fields = ["id", "model", "number", "filename", "sha256", "size", "input_spec", "decoder", "label_map",
                  "recipe_version", "signature", "notes", "metrics", "status", "status_message", "created_by",
                  "created_at"]
        read_only_fields = fields


class ModelVersionInput(serializers.Serializer):
    file = serializers.FileField(help_text="One self-contained .onnx file.")
    input_spec = serializers.JSONField(help_text="size, resize, layout, color, mean, std, scale.")
    decoder = serializers.JSONField(help_text="{kind, ...parameters}: softmax, boxes_scores_labels, dense, dbnet, "
                                              "mask, embedding.")
    label_map = serializers.JSONField(required=False, help_text='{"<class index>": "<label name>"}')
    recipe_version_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    notes = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    metrics = serializers.JSONField(required=False)


class PreannotateInput(serializers.Serializer):
    item_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000)


class PreannotateOutput(serializers.Serializer):
    queued = serializers.IntegerField()


class PipelineOutput(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", default=None)
    webhook_secret_set = serializers.SerializerMethodField(help_text="Whether its webhook nodes have a secret to "
                                                                     "sign with (never shown after creation).")
    author_is_member = serializers.SerializerMethodField(
        help_text="Whether created_by, the member its triggered runs act as, still belongs to the organisation; "
                  "while not, triggered items wait until someone takes the pipeline over (.../take-over/).")

    class Meta:
        model = Pipeline
        fields = ["id", "name", "dataset", "graph", "enabled", "created_by", "author_is_member", "created_at",
                  "updated_at", "webhook_secret_set", "webhook_secret_rotated_at", "webhook_secret_previous_until"]
        read_only_fields = fields

    def get_webhook_secret_set(self, pipeline) -> bool:
        return bool(pipeline.webhook_secret_sealed)

    def get_author_is_member(self, pipeline) -> bool:
        return pipeline_author_is_member(pipeline)


class PipelineCreatedOutput(PipelineOutput):
    """The create answer: the only one, with the rotate answer, that shows the secret its webhook nodes sign with."""

    webhook_secret = serializers.CharField(source="webhook_secret_shown", read_only=True)

    class Meta(PipelineOutput.Meta):
        fields = [*PipelineOutput.Meta.fields, "webhook_secret"]
        read_only_fields = fields


class WebhookSecretRotateInput(serializers.Serializer):
    secret = serializers.CharField(required=False, trim_whitespace=False, max_length=128,
                                   help_text="Your own secret (32-128 printable ASCII characters); left out: random.")
    grace_seconds = serializers.IntegerField(required=False, min_value=0, max_value=7 * 24 * 3600,
                                             help_text="How long the old secret keeps signing beside the new one "
                                                       "(default DLSAAS_WEBHOOK_SECRET_GRACE_SECONDS; 0: not at all).")


class WebhookSecretRotateOutput(serializers.Serializer):
    webhook_secret = serializers.CharField(help_text="Shown once: keep it now.")
    previous_valid_until = serializers.DateTimeField(allow_null=True)


class PipelineInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    dataset_id = serializers.IntegerField(min_value=1)
    graph = serializers.JSONField(help_text='{"nodes": [{id, type, config}], "edges": [{from, to, when?}]}')
    enabled = serializers.BooleanField(required=False, default=True)


class PipelinePatchInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    graph = serializers.JSONField(required=False)
    enabled = serializers.BooleanField(required=False)


class PipelineValidateInput(serializers.Serializer):
    graph = serializers.JSONField(required=False, help_text="A graph to check; the saved one when left out.")


class PipelineValidateOutput(serializers.Serializer):
    valid = serializers.BooleanField()
    graph = serializers.JSONField()


class PipelineRunInput(serializers.Serializer):
    item_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, min_length=1,
                                     max_length=10_000)
    query = serializers.JSONField(required=False, help_text="A filter of the query language over the dataset.")


class PipelineRunOutput(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", default=None)

    class Meta:
        model = PipelineRun
        fields = ["id", "pipeline", "status", "trigger", "item_count", "result", "created_by", "started_at",
                  "finished_at"]
        read_only_fields = fields


class PipelineRunDetailOutput(PipelineRunOutput):
    nodes = serializers.JSONField(source="summary.nodes", help_text="{node id: {type, queued, running, done, "
                                                                    "failed}}")
    failed = serializers.JSONField(source="summary.failed", help_text="The failed items with their errors.")

    class Meta(PipelineRunOutput.Meta):
        fields = [*PipelineRunOutput.Meta.fields, "graph", "nodes", "failed"]
        read_only_fields = fields


class RetryOutput(serializers.Serializer):
    queued = serializers.IntegerField()


class AgreementQuery(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="Outcomes resolved from (inclusive), ISO 8601.")
    until = serializers.DateTimeField(required=False, help_text="Outcomes resolved before (exclusive), ISO 8601.")

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["until"] <= attrs["since"]:
            raise serializers.ValidationError({"until": "Must be later than since."})
        return attrs


class AgreementCountsOutput(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Suggestions kept unchanged.")
    edited = serializers.IntegerField(help_text="Suggestions kept after an edit of shape, label or attributes.")
    rejected = serializers.IntegerField(help_text="Suggestions deleted (rejected, or deleted once accepted).")
    missed = serializers.IntegerField(help_text="Shapes people drew that the version suggested nothing for.")
    resolved = serializers.IntegerField(help_text="accepted + edited + rejected: the base of every rate.")
    open = serializers.IntegerField(help_text="Current suggestions nobody has resolved yet (in no rate).")
    label_changed = serializers.IntegerField(help_text="Edited suggestions whose label people changed.")
    items = serializers.IntegerField(help_text="Items with at least one outcome.")


class AgreementOutput(serializers.Serializer):
    model_version = serializers.IntegerField()
    model = serializers.IntegerField()
    number = serializers.IntegerField()
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    counts = AgreementCountsOutput()
    acceptance_rate = serializers.FloatField(allow_null=True)
    edit_rate = serializers.FloatField(allow_null=True)
    rejection_rate = serializers.FloatField(allow_null=True)
    mean_iou_edited = serializers.FloatField(allow_null=True, help_text="Mean IoU of suggested vs kept shapes.")
    precision = serializers.FloatField(allow_null=True, help_text="(accepted + edited) / resolved.")
    recall = serializers.FloatField(allow_null=True, help_text="(accepted + edited) / (accepted + edited + missed).")
