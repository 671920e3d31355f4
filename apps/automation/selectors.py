"""Reads of the automation app, always starting from for_org."""

from .models import Model, ModelVersion, PreAnnotation


def model_list(*, org):
    return Model.objects.for_org(org).select_related("created_by").order_by("name", "id")


def model_version_list(*, model: Model):
    return (ModelVersion.objects.for_org(model.organization_id).filter(model=model)
            .select_related("created_by").order_by("-number"))


def model_version_get(*, org_id: int, version_id: int) -> ModelVersion | None:
    return ModelVersion.objects.for_org(org_id).select_related("organization", "model", "blob").filter(
        pk=version_id).first()


def model_get_by_name(*, org, name: str) -> Model | None:
    return Model.objects.for_org(org).filter(name=name).first()


def preannotation_list(*, org, model_version: ModelVersion):
    return PreAnnotation.objects.for_org(org).filter(model_version=model_version)


def pipeline_list(*, org):
    from .models import Pipeline

    return Pipeline.objects.for_org(org).select_related("created_by").order_by("name", "id")


def pipeline_run_list(*, pipeline):
    from .models import PipelineRun

    return (PipelineRun.objects.for_org(pipeline.organization_id).filter(pipeline=pipeline)
            .select_related("created_by").order_by("-started_at", "-id"))


def pipeline_run_get(*, org_id: int, run_id: int):
    from .models import PipelineRun

    return (PipelineRun.objects.for_org(org_id).select_related("organization", "pipeline__dataset", "created_by")
            .filter(pk=run_id).first())


def pipeline_get(*, org_id: int, pipeline_id: int):
    from .models import Pipeline

    return (Pipeline.objects.for_org(org_id).select_related("organization", "dataset", "created_by")
            .filter(pk=pipeline_id).first())


def pipeline_last_runs(*, org, pipeline_ids: list[int]) -> dict:
    """{pipeline id: its latest run} for these pipelines (one query)."""
    from .models import PipelineRun

    runs = (PipelineRun.objects.for_org(org).filter(pipeline_id__in=pipeline_ids)
            .order_by("pipeline_id", "-started_at", "-id").distinct("pipeline_id"))
    return {run.pipeline_id: run for run in runs}


def ready_model_versions(*, org):
    return (ModelVersion.objects.for_org(org).filter(status=ModelVersion.Status.READY).select_related("model")
            .order_by("model__name", "-number"))


def open_tasks_of_dataset(*, dataset):
    from apps.workforce.models import Task

    return (Task.objects.for_org(dataset.organization_id).filter(dataset=dataset).exclude(status=Task.Status.DONE)
            .order_by("name", "id"))


def organization_get(*, org_id: int):
    """The organisation a job names (None once deleted): jobs receive only its id."""
    from apps.tenancy.models import Organization

    return Organization.objects.filter(pk=org_id).first()
