from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from apps.automation import pipeline_engine, pipelines, selectors, services
from apps.automation.access import access_model, access_model_version, access_pipeline, access_pipeline_run
from apps.automation.models import Model, ModelVersion, Pipeline, PipelineRun
from apps.automation.webhook_secrets import pipeline_webhook_secret_rotate
from apps.core.api.base import OrgApiView
from apps.core.api.parsers import SafeJSONParser
from apps.datasets.access import access_dataset
from apps.recipes.access import access_recipe, access_recipe_version

from .serializers import (
    AgreementOutput,
    AgreementQuery,
    ModelInput,
    ModelOutput,
    ModelVersionInput,
    ModelVersionOutput,
    PipelineCreatedOutput,
    PipelineInput,
    PipelineOutput,
    PipelinePatchInput,
    PipelineRunDetailOutput,
    PipelineRunInput,
    PipelineRunOutput,
    PipelineValidateInput,
    PipelineValidateOutput,
    PreannotateInput,
    PreannotateOutput,
    RetryOutput,
    WebhookSecretRotateInput,
    WebhookSecretRotateOutput,
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


class ModelVersionAgreementApi(OrgApiView):
    """How people received this version's suggestions: accepted, edited, rejected, missed, and the rates."""

    model = ModelVersion
    serializer_class = AgreementOutput
    pagination_class = None
    required_scopes = {"GET": "model.view"}

    @extend_schema(parameters=[AgreementQuery], responses=AgreementOutput)
    def get(self, request, pk):
        version = access_model_version(org=request.org, actor=request.user, version_id=pk)
        query = AgreementQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        since, until = query.validated_data.get("since"), query.validated_data.get("until")
        figures = selectors.model_versions_agreement(org=request.org, versions=[version], since=since,
                                                     until=until)[version.pk]
        return Response(AgreementOutput({**figures, "since": since, "until": until}).data)


# --- pipelines --------------------------------------------------------------------------------------------------


class PipelineListApi(OrgApiView):
    model = Pipeline
    serializer_class = PipelineOutput
    required_scopes = {"GET": "model.view", "POST": "model.manage"}

    def get(self, request):
        page = self.paginate_queryset(selectors.pipeline_list(org=request.org))
        return self.get_paginated_response(PipelineOutput(page, many=True).data)

    @extend_schema(request=PipelineInput, responses={201: PipelineCreatedOutput})
    def post(self, request):
        data = PipelineInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=fields.pop("dataset_id"))
        pipeline = pipelines.pipeline_create(org=request.org, actor=request.user, dataset=dataset, **fields)
        return Response(PipelineCreatedOutput(pipeline).data, status=status.HTTP_201_CREATED)


class PipelineDetailApi(OrgApiView):
    model = Pipeline
    serializer_class = PipelineOutput
    pagination_class = None
    required_scopes = {"GET": "model.view", "PATCH": "model.manage", "DELETE": "model.manage"}

    def get(self, request, pk):
        return Response(PipelineOutput(access_pipeline(org=request.org, actor=request.user, pipeline_id=pk)).data)

    @extend_schema(request=PipelinePatchInput, responses={200: PipelineOutput})
    def patch(self, request, pk):
        pipeline = access_pipeline(org=request.org, actor=request.user, pipeline_id=pk, scope="model.manage")
        data = PipelinePatchInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        pipeline = pipelines.pipeline_update(org=request.org, actor=request.user, pipeline=pipeline,
                                             **data.validated_data)
        return Response(PipelineOutput(pipeline).data)

    def delete(self, request, pk):
        pipeline = access_pipeline(org=request.org, actor=request.user, pipeline_id=pk, scope="model.manage")
        pipelines.pipeline_delete(org=request.org, actor=request.user, pipeline=pipeline)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PipelineTakeOverApi(OrgApiView):
    """The caller becomes the member the pipeline's triggered runs act as (409 when they already are); items that
    waited for an author start a run. Audited as pipeline.taken_over."""

    model = Pipeline
    serializer_class = PipelineOutput
    pagination_class = None
    required_scopes = {"POST": "model.manage"}

    @extend_schema(request=None, responses={200: PipelineOutput})
    def post(self, request, pk):
        pipeline = access_pipeline(org=request.org, actor=request.user, pipeline_id=pk, scope="model.manage")
        return Response(PipelineOutput(pipelines.pipeline_take_over(org=request.org, actor=request.user,
                                                                    pipeline=pipeline)).data)


class PipelineWebhookSecretRotateApi(OrgApiView):
    model = Pipeline
    serializer_class = WebhookSecretRotateOutput
    pagination_class = None
    required_scopes = {"POST": "model.manage"}

    @extend_schema(request=WebhookSecretRotateInput, responses={200: WebhookSecretRotateOutput})
    def post(self, request, pk):
        pipeline = access_pipeline(org=request.org, actor=request.user, pipeline_id=pk, scope="model.manage")
        data = WebhookSecretRotateInput(data=request.data)
        data.is_valid(raise_exception=True)
        secret, until = pipeline_webhook_secret_rotate(org=request.org, actor=request.user, pipeline=pipeline,
                                                       **data.validated_data)
        return Response(WebhookSecretRotateOutput({"webhook_secret": secret, "previous_valid_until": until}).data)


class PipelineValidateApi(OrgApiView):
    model = Pipeline
    serializer_class = PipelineValidateOutput
    pagination_class = None
    required_scopes = {"POST": "model.manage"}

    @extend_schema(request=PipelineValidateInput, responses={200: PipelineValidateOutput})
    def post(self, request, pk):
        pipeline = access_pipeline(org=request.org, actor=request.user, pipeline_id=pk, scope="model.manage")
        data = PipelineValidateInput(data=request.data)
        data.is_valid(raise_exception=True)
        graph = pipelines.pipeline_validate(org=request.org, actor=request.user, pipeline=pipeline,
                                            graph=data.validated_data.get("graph"))
        return Response({"valid": True, "graph": graph})


class PipelineRunStartApi(OrgApiView):
    model = Pipeline
    serializer_class = PipelineRunOutput
    pagination_class = None
    required_scopes = {"POST": "model.manage"}

    @extend_schema(request=PipelineRunInput, responses={202: PipelineRunOutput})
    def post(self, request, pk):
        pipeline = access_pipeline(org=request.org, actor=request.user, pipeline_id=pk, scope="model.manage")
        data = PipelineRunInput(data=request.data)
        data.is_valid(raise_exception=True)
        run = pipeline_engine.pipeline_run_start(org=request.org, actor=request.user, pipeline=pipeline,
                                                 item_ids=data.validated_data.get("item_ids"),
                                                 query=data.validated_data.get("query"))
        return Response(PipelineRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class PipelineRunListApi(OrgApiView):
    model = Pipeline
    serializer_class = PipelineRunOutput
    required_scopes = {"GET": "model.view"}

    def get(self, request, pk):
        pipeline = access_pipeline(org=request.org, actor=request.user, pipeline_id=pk)
        page = self.paginate_queryset(selectors.pipeline_run_list(pipeline=pipeline))
        return self.get_paginated_response(PipelineRunOutput(page, many=True).data)


class PipelineRunDetailApi(OrgApiView):
    model = PipelineRun
    serializer_class = PipelineRunDetailOutput
    pagination_class = None
    required_scopes = {"GET": "model.view"}

    def get(self, request, pk):
        run = access_pipeline_run(org=request.org, actor=request.user, run_id=pk)
        run.summary = pipeline_engine.run_summary(run)
        return Response(PipelineRunDetailOutput(run).data)


class PipelineRunRetryFailedApi(OrgApiView):
    model = PipelineRun
    serializer_class = RetryOutput
    pagination_class = None
    required_scopes = {"POST": "model.manage"}

    @extend_schema(request=None, responses={202: RetryOutput})
    def post(self, request, pk):
        run = access_pipeline_run(org=request.org, actor=request.user, run_id=pk, scope="model.manage")
        queued = pipeline_engine.pipeline_run_retry_failed(org=request.org, actor=request.user, run=run)
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)
