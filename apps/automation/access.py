"""Fetch and authorise one model or model version; missing and forbidden are the same 404."""

from apps.core.ids import parse_id
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope

from .models import Model, ModelVersion


def access_model(*, org, actor, model_id, scope: str = "model.view") -> Model:
    pk = parse_id(model_id)
    model = Model.objects.for_org(org).filter(pk=pk).first() if pk else None
    if model is None or not has_scope(org=org, actor=actor, scope=scope, obj=model):
        deny_not_found(org=org, actor=actor, target_type="automation.model", target_id=model_id, scope=scope)
    return model


def access_model_version(*, org, actor, version_id, scope: str = "model.view") -> ModelVersion:
    pk = parse_id(version_id)
    version = (ModelVersion.objects.for_org(org).select_related("model", "created_by").filter(pk=pk).first()
               if pk else None)
    if version is None or not has_scope(org=org, actor=actor, scope=scope, obj=version.model):
        deny_not_found(org=org, actor=actor, target_type="automation.modelversion", target_id=version_id,
                       scope=scope)
    return version


def access_pipeline(*, org, actor, pipeline_id, scope: str = "model.view"):
    from .models import Pipeline

    pk = parse_id(pipeline_id)
    pipeline = Pipeline.objects.for_org(org).select_related("dataset", "created_by").filter(pk=pk).first() \
        if pk else None
    if pipeline is None or not has_scope(org=org, actor=actor, scope=scope, obj=pipeline):
        deny_not_found(org=org, actor=actor, target_type="automation.pipeline", target_id=pipeline_id, scope=scope)
    return pipeline


def access_pipeline_run(*, org, actor, run_id, scope: str = "model.view"):
    from .models import PipelineRun

    pk = parse_id(run_id)
    run = (PipelineRun.objects.for_org(org).select_related("pipeline__dataset", "created_by").filter(pk=pk).first()
           if pk else None)
    if run is None or not has_scope(org=org, actor=actor, scope=scope, obj=run.pipeline):
        deny_not_found(org=org, actor=actor, target_type="automation.pipelinerun", target_id=run_id, scope=scope)
    return run
