from rest_framework import serializers

from apps.annotations.models import Annotation, AnnotationRevision


class AnnotationOutput(serializers.ModelSerializer):
    class Meta:
        model = Annotation
        fields = ["id", "item", "recipe_version", "type", "label", "attributes", "geometry", "z_order", "frame",
                  "layer", "source", "review_state", "confidence", "version", "created_by", "created_at", "updated_by",
                  "updated_at"]
        read_only_fields = fields


class AnnotationInput(serializers.Serializer):
    """Documentation of one annotation as written; the checks live in apps/annotations/validation.py."""

    type = serializers.CharField()
    label = serializers.CharField()
    geometry = serializers.JSONField(required=False, allow_null=True)
    attributes = serializers.JSONField(required=False)
    z_order = serializers.IntegerField(required=False)
    frame = serializers.IntegerField(required=False)
    source = serializers.CharField(required=False)
    confidence = serializers.FloatField(required=False, allow_null=True)
    recipe_version = serializers.IntegerField(required=False, help_text="Default: the dataset's recipe, latest.")


class AnnotationChangeInput(serializers.Serializer):
    layer = serializers.IntegerField(min_value=1, required=False, allow_null=True,
                                     help_text="A unit of work's private layer; the shared annotations when absent.")
    create = serializers.ListField(child=serializers.JSONField(), required=False, default=list)
    update = serializers.ListField(child=serializers.JSONField(), required=False, default=list,
                                   help_text="Each names id and the version it read, then the fields to change.")
    delete = serializers.ListField(child=serializers.JSONField(), required=False, default=list,
                                   help_text="Each is {id, version}.")


class AnnotationChangeOutput(serializers.Serializer):
    created = AnnotationOutput(many=True)
    updated = AnnotationOutput(many=True)
    deleted = serializers.ListField(child=serializers.IntegerField())


class AnnotationRevisionOutput(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", default=None)

    class Meta:
        model = AnnotationRevision
        fields = ["id", "annotation_id", "item", "version", "action", "changed", "data", "actor", "at"]
        read_only_fields = fields
