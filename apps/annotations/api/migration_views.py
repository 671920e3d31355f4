"""Label migrations: preview what publishing a recipe version does to existing annotations, then run it."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.annotations import label_migration
from apps.annotations.access import access_label_migration
from apps.annotations.models import LabelMigrationRun
from apps.core.api.base import OrgApiView
from apps.core.ids import parse_id
from apps.recipes.access import access_recipe
from apps.recipes.models import Recipe
from apps.recipes.selectors import recipe_version_list


class LabelMigrationRunOutput(serializers.ModelSerializer):
    class Meta:
        model = LabelMigrationRun
        fields = ["id", "recipe", "to_version", "status", "preview", "total", "processed", "relabelled", "deleted",
                  "message", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class _Relabel(serializers.Serializer):
    to = serializers.CharField()
    count = serializers.IntegerField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField()
        return fields


class _Deletion(serializers.Serializer):
    label = serializers.CharField()
    count = serializers.IntegerField()


class LabelMigrationPreviewOutput(serializers.Serializer):
    to_version = serializers.IntegerField()
    total = serializers.IntegerField(help_text="Annotations pinned to older versions of the recipe.")
    unchanged = serializers.IntegerField()
    relabel = _Relabel(many=True)
    delete = _Deletion(many=True)


class LabelMigrationInput(serializers.Serializer):
    to_version = serializers.IntegerField(min_value=1, required=False,
                                          help_text="A version number; the latest when absent.")


def _target(recipe, number):
    versions = recipe_version_list(recipe=recipe)
    target = versions.filter(number=number).first() if number else versions.first()
    if target is None:
        raise ValidationError({"to_version": "This recipe has no such published version."})
    return target


class LabelMigrationPreviewApi(OrgApiView):
    model = Recipe
    serializer_class = LabelMigrationPreviewOutput
    pagination_class = None
    required_scopes = {"GET": "recipe.view"}

    @extend_schema(parameters=[OpenApiParameter("to_version", int)])
    def get(self, request, pk):
        recipe = access_recipe(org=request.org, actor=request.user, recipe_id=pk)
        raw = request.query_params.get("to_version")
        number = parse_id(raw) if raw is not None else None
        if raw is not None and number is None:
            raise ValidationError({"to_version": "A version number is a whole number from 1."})
        target = _target(recipe, number)
        return Response(label_migration.label_migration_preview(org=request.org, recipe=recipe, target=target))


class LabelMigrationStartApi(OrgApiView):
    model = Recipe
    serializer_class = LabelMigrationRunOutput
    pagination_class = None
    required_scopes = {"POST": "recipe.manage"}

    @extend_schema(request=LabelMigrationInput, responses={202: LabelMigrationRunOutput})
    def post(self, request, pk):
        recipe = access_recipe(org=request.org, actor=request.user, recipe_id=pk, scope="recipe.manage")
        data = LabelMigrationInput(data=request.data)
        data.is_valid(raise_exception=True)
        target = _target(recipe, data.validated_data.get("to_version"))
        run = label_migration.label_migration_start(org=request.org, actor=request.user, recipe=recipe,
                                                    target=target)
        return Response(LabelMigrationRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class LabelMigrationRunApi(OrgApiView):
    model = LabelMigrationRun
    serializer_class = LabelMigrationRunOutput
    pagination_class = None
    required_scopes = {"GET": "recipe.view"}

    def get(self, request, pk):
        run = access_label_migration(org=request.org, actor=request.user, run_id=pk)
        return Response(LabelMigrationRunOutput(run).data)
