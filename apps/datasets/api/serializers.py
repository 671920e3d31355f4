from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.datasets.models import Dataset, DatasetVersion, ImportJob, ImportRowError, Item, SavedFilter, SubjectCategory
from apps.datasets.pagination import MAX_CURSOR_LENGTH

SUBJECT_KEY_PATTERN = r"^[A-Za-z0-9_\-]+$"


class DatasetOutput(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", default=None)
    subject_categories = serializers.ListField(child=serializers.ChoiceField(choices=SubjectCategory.choices))

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "classification", "retention_days", "purpose", "subject_key",
                  "subject_categories", "legal_hold", "legal_hold_reason", "created_by", "created_at", "updated_at"]
        read_only_fields = fields


class DatasetInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    classification = serializers.ChoiceField(choices=Dataset.Classification.choices, required=False)
    retention_days = serializers.IntegerField(min_value=1, max_value=36500, required=False, allow_null=True)
    purpose = serializers.CharField(max_length=2000, required=False, allow_blank=True,
                                    help_text="Why the data is processed (shown in the processing register).")
    subject_key = serializers.RegexField(
        SUBJECT_KEY_PATTERN, max_length=100, required=False, allow_blank=True,
        error_messages={"invalid": "A metadata key: letters, digits, '_' and '-' only (e.g. patient_id)."},
        help_text="The item metadata key naming the data subject, for GDPR requests (e.g. patient_id); "
                  "blank when the items name no person.")
    subject_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=SubjectCategory.choices, error_messages={
            "invalid_choice": f'"{{input}}" is not a category of data subjects; choose from '
                              f'{", ".join(SubjectCategory.values)}.'}),
        required=False, max_length=20,
        help_text="Categories of data subjects the items are about (processing register, GDPR art. 30).")


class DatasetPatchInput(DatasetInput):
    name = serializers.CharField(max_length=200, required=False)
    legal_hold = serializers.BooleanField(
        required=False, help_text="While true, nothing of the dataset is purged by retention or erased by a GDPR "
                                  "request. Needs dataset.manage; a reason is required to place it.")
    legal_hold_reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ItemOutput(serializers.ModelSerializer):
    content_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = ["id", "dataset", "kind", "name", "folder", "status", "size", "mime", "sha256", "width", "height",
                  "duration", "metadata", "source_url", "error", "created_at", "content_url", "thumbnail_url"]
        read_only_fields = fields

    def get_content_url(self, item) -> str | None:
        return f"/api/v1/items/{item.pk}/content/" if item.blob_id else None

    def get_thumbnail_url(self, item) -> str | None:
        return f"/api/v1/items/{item.pk}/thumbnail/" if item.thumbnail_id else None


class ItemPatchInput(serializers.Serializer):
    name = serializers.CharField(max_length=500, required=False)
    folder = serializers.CharField(max_length=1000, required=False)
    metadata = serializers.JSONField(required=False, help_text="A JSON Merge Patch: null removes a key.")


class ItemQueryInput(serializers.Serializer):
    filter = serializers.JSONField(required=False, default=dict)
    sort = serializers.JSONField(required=False, default=list)
    page_size = serializers.IntegerField(min_value=1, max_value=500, required=False, default=100)
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=MAX_CURSOR_LENGTH)
    count = serializers.BooleanField(
        required=False, allow_null=True, default=None,
        help_text="Count the matching items (default: on the first page only; the count does not change with "
                  "the cursor).",
    )


class ItemUrlsInput(serializers.Serializer):
    urls = serializers.ListField(child=serializers.CharField(max_length=2000), min_length=1, max_length=10_000)
    folder = serializers.CharField(max_length=1000, required=False, default="/")
    kind = serializers.ChoiceField(choices=Item.Kind.choices, required=False)


class BulkActionInput(serializers.Serializer):
    filter = serializers.JSONField(required=False, default=dict)
    action = serializers.ChoiceField(choices=["move", "set_metadata", "delete"])
    folder = serializers.CharField(max_length=1000, required=False)
    metadata = serializers.JSONField(required=False)


class SavedFilterOutput(serializers.ModelSerializer):
    class Meta:
        model = SavedFilter
        fields = ["id", "dataset", "name", "filter", "sort", "created_at"]
        read_only_fields = fields


class SavedFilterInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    filter = serializers.JSONField(required=False, default=dict)
    sort = serializers.JSONField(required=False, default=list)


class FolderInput(serializers.Serializer):
    path = serializers.CharField(max_length=1000)


class ImportJobOutput(serializers.ModelSerializer):
    class Meta:
        model = ImportJob
        fields = ["id", "dataset", "source", "status", "folder", "total", "processed", "succeeded", "failed",
                  "message", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class ImportRowErrorOutput(serializers.ModelSerializer):
    class Meta:
        model = ImportRowError
        fields = ["id", "row", "reference", "message"]
        read_only_fields = fields


class VersionReference(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()


class DatasetVersionOutput(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", default=None)
    sections = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    regenerated_from = serializers.SerializerMethodField()
    replaced_by = serializers.SerializerMethodField()

    class Meta:
        model = DatasetVersion
        fields = ["id", "dataset", "number", "message", "filter", "status", "item_count", "annotation_count",
                  "sections", "checksum", "error", "created_by", "created_at", "finished_at", "download_url",
                  "withdrawn_at", "withdrawn_reason", "regenerated_from", "replaced_by", "notes"]
        read_only_fields = fields

    @extend_schema_field(VersionReference(allow_null=True))
    def get_regenerated_from(self, version) -> dict | None:
        """The withdrawn version this one was regenerated from (without the erased data)."""
        source = version.regenerated_from if version.regenerated_from_id else None
        return {"id": source.pk, "number": source.number} if source is not None else None

    @extend_schema_field(VersionReference(allow_null=True))
    def get_replaced_by(self, version) -> dict | None:
        """The version regenerated from this withdrawn one (the newest that did not fail)."""
        pk = getattr(version, "replaced_by_pk", None)
        return {"id": pk, "number": version.replaced_by_number} if pk else None

    def get_sections(self, version) -> dict:
        """Each section's file: rows, bytes, sha256 and where to download it."""
        base = f"/api/v1/dataset-versions/{version.pk}/download/"
        return {name: {"rows": entry["rows"], "bytes": entry["bytes"], "sha256": entry["sha256"],
                       "download_url": f"{base}?section={name}"} for name, entry in version.sections.items()}

    def get_download_url(self, version) -> str | None:
        ready = version.status == DatasetVersion.Status.READY
        return f"/api/v1/dataset-versions/{version.pk}/download/" if ready else None


class DatasetVersionInput(serializers.Serializer):
    message = serializers.CharField(max_length=2000)
    filter = serializers.JSONField(
        required=False, default=dict, help_text="A query-language filter: the version holds only matching items.",
    )
