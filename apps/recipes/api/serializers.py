from rest_framework import serializers

from apps.recipes.models import Recipe, RecipeVersion


class RecipeOutput(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", default=None)

    class Meta:
        model = Recipe
        fields = ["id", "name", "description", "draft", "latest_version_number", "created_by", "created_at",
                  "updated_at"]
        read_only_fields = fields


class RecipeInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    spec = serializers.JSONField(required=False, help_text="Labels, attributes, instructions and review settings.")


class RecipePatchInput(RecipeInput):
    name = serializers.CharField(max_length=200, required=False)


class RecipeVersionOutput(serializers.ModelSerializer):
    published_by = serializers.EmailField(source="published_by.email", default=None)

    class Meta:
        model = RecipeVersion
        fields = ["id", "recipe", "number", "spec", "migration", "message", "checksum", "published_by",
                  "published_at"]
        read_only_fields = fields


class PublishInput(serializers.Serializer):
    message = serializers.CharField(max_length=500, required=False, allow_blank=True)
    migration = serializers.JSONField(required=False, help_text="Label operations from the previous version.")


class RecipeImportInput(serializers.Serializer):
    document = serializers.JSONField(help_text="A recipe exported by GET /recipes/{id}/export/.")
    name = serializers.CharField(max_length=200, required=False, help_text="Overrides the document's name.")


class DatasetRecipeInput(serializers.Serializer):
    recipe_id = serializers.IntegerField(min_value=1)


class RecipeExportOutput(serializers.Serializer):
    format = serializers.CharField(help_text="dlsaas.recipe/1")
    name = serializers.CharField()
    description = serializers.CharField()
    version = serializers.IntegerField(allow_null=True, help_text="The published version, null for the draft.")
    spec = serializers.JSONField()
