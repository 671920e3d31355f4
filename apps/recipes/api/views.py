from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.core.api.base import OrgApiView
from apps.core.ids import parse_id
from apps.datasets.access import access_dataset
from apps.recipes import selectors, services
from apps.recipes.access import access_recipe, access_recipe_version
from apps.recipes.models import Recipe, RecipeVersion

from .serializers import (
    DatasetRecipeInput,
    PublishInput,
    RecipeExportOutput,
    RecipeImportInput,
    RecipeInput,
    RecipeOutput,
    RecipePatchInput,
    RecipeVersionOutput,
)


class RecipeListApi(OrgApiView):
    model = Recipe
    serializer_class = RecipeOutput
    required_scopes = {"GET": "recipe.view", "POST": "recipe.manage"}

    def get(self, request):
        page = self.paginate_queryset(selectors.recipe_list(org=request.org).select_related("created_by"))
        return self.get_paginated_response(RecipeOutput(page, many=True).data)

    @extend_schema(request=RecipeInput, responses={201: RecipeOutput})
    def post(self, request):
        data = RecipeInput(data=request.data)
        data.is_valid(raise_exception=True)
        recipe = services.recipe_create(org=request.org, actor=request.user, **data.validated_data)
        return Response(RecipeOutput(recipe).data, status=status.HTTP_201_CREATED)


class RecipeImportApi(OrgApiView):
    model = Recipe
    serializer_class = RecipeOutput
    required_scopes = {"POST": "recipe.manage"}

    @extend_schema(request=RecipeImportInput, responses={201: RecipeOutput})
    def post(self, request):
        data = RecipeImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        recipe = services.recipe_import(org=request.org, actor=request.user, **data.validated_data)
        return Response(RecipeOutput(recipe).data, status=status.HTTP_201_CREATED)


class RecipeDetailApi(OrgApiView):
    model = Recipe
    serializer_class = RecipeOutput
    required_scopes = {"GET": "recipe.view", "PATCH": "recipe.manage", "DELETE": "recipe.manage"}

    def get(self, request, pk):
        return Response(RecipeOutput(access_recipe(org=request.org, actor=request.user, recipe_id=pk)).data)

    @extend_schema(request=RecipePatchInput, responses=RecipeOutput)
    def patch(self, request, pk):
        recipe = access_recipe(org=request.org, actor=request.user, recipe_id=pk, scope="recipe.manage")
        data = RecipePatchInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        recipe = services.recipe_update(org=request.org, actor=request.user, recipe=recipe, **data.validated_data)
        return Response(RecipeOutput(recipe).data)

    def delete(self, request, pk):
        recipe = access_recipe(org=request.org, actor=request.user, recipe_id=pk, scope="recipe.manage")
        services.recipe_delete(org=request.org, actor=request.user, recipe=recipe)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecipePublishApi(OrgApiView):
    model = Recipe
    serializer_class = RecipeVersionOutput
    required_scopes = {"POST": "recipe.manage"}

    @extend_schema(request=PublishInput, responses={201: RecipeVersionOutput})
    def post(self, request, pk):
        recipe = access_recipe(org=request.org, actor=request.user, recipe_id=pk, scope="recipe.manage")
        data = PublishInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.recipe_publish(org=request.org, actor=request.user, recipe=recipe, **data.validated_data)
        return Response(RecipeVersionOutput(version).data, status=status.HTTP_201_CREATED)


class RecipeVersionListApi(OrgApiView):
    model = Recipe
    serializer_class = RecipeVersionOutput
    required_scopes = {"GET": "recipe.view"}

    def get(self, request, pk):
        recipe = access_recipe(org=request.org, actor=request.user, recipe_id=pk)
        page = self.paginate_queryset(selectors.recipe_version_list(recipe=recipe).select_related("published_by"))
        return self.get_paginated_response(RecipeVersionOutput(page, many=True).data)


class RecipeVersionDetailApi(OrgApiView):
    model = RecipeVersion
    serializer_class = RecipeVersionOutput
    pagination_class = None
    required_scopes = {"GET": "recipe.view"}

    def get(self, request, pk):
        version = access_recipe_version(org=request.org, actor=request.user, version_id=pk)
        return Response(RecipeVersionOutput(version).data)


class RecipeExportApi(OrgApiView):
    model = Recipe
    serializer_class = RecipeExportOutput
    pagination_class = None
    required_scopes = {"GET": "recipe.view"}

    @extend_schema(parameters=[OpenApiParameter("version", int, description="A published version number; "
                                                                             "the draft when absent.")])
    def get(self, request, pk):
        recipe = access_recipe(org=request.org, actor=request.user, recipe_id=pk)
        version = None
        if "version" in request.query_params:
            number = parse_id(request.query_params["version"])
            version = selectors.recipe_version_list(recipe=recipe).filter(number=number).first() if number else None
            if version is None:
                raise ValidationError({"version": "This recipe has no such published version."})
        response = Response(services.recipe_export(recipe=recipe, version=version))
        suffix = f"-v{version.number}" if version else "-draft"
        response["Content-Disposition"] = f'attachment; filename="recipe-{recipe.pk}{suffix}.json"'
        return response


class DatasetRecipeApi(OrgApiView):
    model = Recipe
    serializer_class = RecipeOutput
    pagination_class = None
    required_scopes = {"GET": "dataset.view", "PUT": "dataset.manage"}

    def get(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk)
        recipe = selectors.dataset_recipe(org=request.org, dataset=dataset)
        version = selectors.recipe_latest_version(recipe=recipe) if recipe else None
        return Response({"recipe": RecipeOutput(recipe).data if recipe else None,
                         "version": RecipeVersionOutput(version).data if version else None})

    @extend_schema(request=DatasetRecipeInput, responses=RecipeOutput)
    def put(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="dataset.manage")
        data = DatasetRecipeInput(data=request.data)
        data.is_valid(raise_exception=True)
        recipe = access_recipe(org=request.org, actor=request.user, recipe_id=data.validated_data["recipe_id"])
        services.dataset_recipe_set(org=request.org, actor=request.user, dataset=dataset, recipe=recipe)
        return Response(RecipeOutput(recipe).data)
