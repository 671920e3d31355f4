from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from apps.automation import selectors, services
from apps.automation.access import access_model, access_model_version
from apps.automation.models import Model, ModelVersion
from apps.core.api.base import OrgApiView
from apps.core.api.parsers import SafeJSONParser
from apps.recipes.access import access_recipe, access_recipe_version

from .serializers import (
    ModelInput,
    ModelOutput,
    ModelVersionInput,
    ModelVersionOutput,
    PreannotateInput,
    PreannotateOutput,
)


class ModelListApi(OrgApiView):
    model = Model
    serializer_class = ModelOutput
    required_scopes = {"GET": "model.view", "POST": "model.manage"}

    def get(self, request):
        page = self.paginate_queryset(selectors.model_list(org=request.org))
        return self.get_paginated_response(ModelOutput(page, many=True).data)

    @extend_schema(request=ModelInput, responses={201: ModelOutput})
    def post(self, request):
        data = ModelInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        recipe_id = fields.pop("recipe_id", None)
        recipe = access_recipe(org=request.org, actor=request.user, recipe_id=recipe_id) if recipe_id else None
        model = services.model_create(org=request.org, actor=request.user, recipe=recipe, **fields)
        return Response(ModelOutput(model).data, status=status.HTTP_201_CREATED)


class ModelDetailApi(OrgApiView):
    model = Model
    serializer_class = ModelOutput
    pagination_class = None
    required_scopes = {"GET": "model.view"}

    def get(self, request, pk):
        return Response(ModelOutput(access_model(org=request.org, actor=request.user, model_id=pk)).data)


class ModelVersionListApi(OrgApiView):
    model = Model
    serializer_class = ModelVersionOutput
    parser_classes = [MultiPartParser, SafeJSONParser]
    required_scopes = {"GET": "model.view", "POST": "model.manage"}

    def get(self, request, pk):
        model = access_model(org=request.org, actor=request.user, model_id=pk)
        page = self.paginate_queryset(selectors.model_version_list(model=model))
        return self.get_paginated_response(ModelVersionOutput(page, many=True).data)

    @extend_schema(request={"multipart/form-data": ModelVersionInput}, responses={201: ModelVersionOutput})
    def post(self, request, pk):
        model = access_model(org=request.org, actor=request.user, model_id=pk, scope="model.manage")
        data = ModelVersionInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        version_id = fields.pop("recipe_version_id", None)
        recipe_version = (access_recipe_version(org=request.org, actor=request.user, version_id=version_id)
                          if version_id else None)
        version = services.model_version_register(org=request.org, actor=request.user, model=model,
                                                  recipe_version=recipe_version, **fields)
        return Response(ModelVersionOutput(version).data, status=status.HTTP_201_CREATED)


class ModelVersionDetailApi(OrgApiView):
    model = ModelVersion
    serializer_class = ModelVersionOutput
    pagination_class = None
    required_scopes = {"GET": "model.view"}

    def get(self, request, pk):
        return Response(ModelVersionOutput(access_model_version(org=request.org, actor=request.user,
                                                                version_id=pk)).data)


class ModelVersionPreannotateApi(OrgApiView):
    model = ModelVersion
    serializer_class = PreannotateOutput
    pagination_class = None
    required_scopes = {"POST": "model.manage"}

    @extend_schema(request=PreannotateInput, responses={202: PreannotateOutput})
    def post(self, request, pk):
        version = access_model_version(org=request.org, actor=request.user, version_id=pk, scope="model.manage")
        data = PreannotateInput(data=request.data)
        data.is_valid(raise_exception=True)
        queued = services.preannotate_request(org=request.org, actor=request.user, model_version=version,
                                              item_ids=data.validated_data["item_ids"])
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)
