"""Reads of the automation app, always starting from for_org."""

from django.db.models import Exists, OuterRef

from .models import Model, ModelVersion, Pipeline, PreAnnotation, TriggeredItem


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
    """The organisation's pipelines, each with `author_member`: whether the member its triggered runs act as still
    belongs to the organisation (in the same query, for lists)."""
    from apps.tenancy.models import Membership

    author = Membership.objects.for_org(org).filter(user_id=OuterRef("created_by_id"))
    return (Pipeline.objects.for_org(org).select_related("created_by").annotate(author_member=Exists(author))
            .order_by("name", "id"))


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


# --- agreement of model versions with people (agreement.py records the outcomes) ---------------------------------


def _open_suggestions(*, org, version_ids: list[int]) -> dict[int, int]:
    """{version id: how many of its current suggestions nobody has resolved yet, in the item studio or in a submitted
    unit} (one query per version that has suggestions)."""
    from django.db import connection
    from django.db.models import BigIntegerField, F, Func
    from django.db.models.functions import Cast

    from apps.annotations.models import Annotation

    from .models import SuggestionOutcome

    out = dict.fromkeys(version_ids, 0)
    with_suggestions = (PreAnnotation.objects.for_org(org).filter(model_version_id__in=version_ids)
                        .values_list("model_version_id", flat=True).distinct())
    for version in with_suggestions:
        if connection.vendor == "postgresql":
            ids = (PreAnnotation.objects.for_org(org).filter(model_version_id=version).annotate(
                aid=Cast(Func(F("annotation_ids"), function="jsonb_array_elements_text"), BigIntegerField()))
                .values("aid"))
        else:  # the embedded demo (SQLite): its few suggestions are listed in Python
            ids = [pk for row in PreAnnotation.objects.for_org(org).filter(model_version_id=version)
                   .values_list("annotation_ids", flat=True) for pk in row]
        resolved = (SuggestionOutcome.objects.for_org(org).filter(model_version_id=version, suggestion_id__isnull=False)
                    .values("suggestion_id"))
        out[version] = Annotation.objects.for_org(org).filter(
            review_state="proposed", source="model", layer__isnull=True, pk__in=ids).exclude(
            pk__in=resolved).count()
    return out


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def agreement_figures(counts: dict, *, open_count: int = 0) -> dict:
    """Rates from outcome counts: each over the resolved suggestions (accepted + edited + rejected); precision is
    the share of resolved suggestions people kept, recall the share of people's shapes the version suggested."""
    accepted, edited, rejected, missed = (counts.get(k) or 0 for k in ("accepted", "edited", "rejected", "missed"))
    kept, resolved = accepted + edited, accepted + edited + rejected
    mean_iou = counts.get("mean_iou_edited")
    return {
        "counts": {"accepted": accepted, "edited": edited, "rejected": rejected, "missed": missed,
                   "resolved": resolved, "open": open_count, "label_changed": counts.get("label_changed") or 0,
                   "items": counts.get("items") or 0},
        "acceptance_rate": _rate(accepted, resolved), "edit_rate": _rate(edited, resolved),
        "rejection_rate": _rate(rejected, resolved),
        "mean_iou_edited": round(mean_iou, 4) if mean_iou is not None else None,
        "precision": _rate(kept, resolved), "recall": _rate(kept, kept + missed),
    }


def model_versions_agreement(*, org, versions: list[ModelVersion], since=None, until=None) -> dict[int, dict]:
    """{version id: its agreement figures} from the outcomes resolved in [since, until) (one grouped query, plus one
    per version for its open suggestions, which are counted as they stand now)."""
    from django.db.models import Avg, Count, Q

    from .models import SuggestionOutcome

    Outcome = SuggestionOutcome.Outcome
    ids = [v.pk for v in versions]
    qs = SuggestionOutcome.objects.for_org(org).filter(model_version_id__in=ids)
    if since is not None:
        qs = qs.filter(resolved_at__gte=since)
    if until is not None:
        qs = qs.filter(resolved_at__lt=until)
    grouped = {row["model_version_id"]: row for row in qs.values("model_version_id").annotate(
        accepted=Count("id", filter=Q(outcome=Outcome.ACCEPTED)), edited=Count("id", filter=Q(outcome=Outcome.EDITED)),
        rejected=Count("id", filter=Q(outcome=Outcome.REJECTED)), missed=Count("id", filter=Q(outcome=Outcome.MISSED)),
        label_changed=Count("id", filter=Q(outcome=Outcome.EDITED, label_changed=True)),
        mean_iou_edited=Avg("iou", filter=Q(outcome=Outcome.EDITED)), items=Count("item_id", distinct=True))}
    open_counts = _open_suggestions(org=org, version_ids=ids)
    return {v.pk: {"model_version": v.pk, "model": v.model_id, "number": v.number,
                   **agreement_figures(grouped.get(v.pk, {}), open_count=open_counts.get(v.pk, 0))}
            for v in versions}


def pipeline_author_is_member(pipeline: Pipeline) -> bool:
    """Whether the member its triggered runs act as still belongs to the organisation (they wait otherwise); read
    from pipeline_list's annotation where the pipeline came from it."""
    from apps.datasets.selectors import member_user_get

    if hasattr(pipeline, "author_member"):
        return pipeline.author_member
    return member_user_get(org_id=pipeline.organization_id, user_id=pipeline.created_by_id) is not None


def pipeline_items_waiting(pipeline: Pipeline) -> int:
    """Items a trigger recorded that no run has taken yet."""
    return TriggeredItem.objects.for_org(pipeline.organization_id).filter(pipeline=pipeline, run__isnull=True).count()
