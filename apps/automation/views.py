"""Pages of the automation app: the pipeline list, the builder and the run monitor; the model registry's list
and model pages (each version's agreement with people, side by side).

- The list (model.view) names each pipeline, its dataset, its trigger and its last run; a manager creates one with a
  name and a dataset (it starts as trigger -> dataset version, changed in the builder).
- The builder (static/js/automation/builder.js) edits the graph in the page: nodes from the registry's types, each
  configured in a form generated from its type (pipelines.node_type_forms), edges as from/to/when selects. It
  validates, saves and dry-runs through the API (validate/, PATCH, run/), and shows each error beside the node or
  field its path names.
- The run monitor (static/js/automation/monitor.js) shows counts per node and status and the failed items, re-read
  from the API when an event on the "pipelines" topic names the run; "Retry the failed items" posts to the API.
- The builder shows, for each webhook node, whether the pipeline's signing secret is set and when it was last rotated
  (never the secret). "Rotate secret" opens a page that asks first (GET), then rotates (POST) through the service
  the API's rotate uses; its answer is the only page that ever shows the new secret, and is never cached.

Every object comes through an access_* helper; everything the scripts get is in a json_script block (escaped).
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.errors import ConflictError
from apps.core.forms import add_service_errors
from apps.datasets import selectors as dataset_selectors
from apps.datasets.access import access_dataset
from apps.storage.errors import KeyUnavailable
from apps.tenancy.permissions import has_scope, require_scope

from . import pipeline_engine, pipelines, selectors
from .access import access_model, access_pipeline, access_pipeline_run
from .forms import AgreementPeriodForm, PipelineForm, WebhookSecretRotateForm, duration_words
from .models import NodeRun
from .webhook_secrets import pipeline_webhook_secret_rotate

PIPELINES_PER_PAGE = 50
DATASETS_SHOWN = 200
CHOICES_SHOWN = 500
DRY_RUN_ITEMS_SHOWN = 50


def _trigger_of(graph: dict) -> dict:
    return next((n.get("config") or {} for n in (graph or {}).get("nodes", []) if n.get("type") == "trigger"), {})


def _webhook_nodes(graph: dict) -> list[dict]:
    return [{"id": n.get("id", ""), "url": (n.get("config") or {}).get("url", "")}
            for n in (graph or {}).get("nodes", []) if n.get("type") == "webhook"]


def _webhook_secret_facts(pipeline) -> dict:
    """What a page may say about the pipeline's webhook secret: whether it is set, when it was last rotated, and
    until when the previous one still signs; never the secret."""
    previous_until = pipeline.webhook_secret_previous_until
    return {"set": bool(pipeline.webhook_secret_sealed), "rotated_at": pipeline.webhook_secret_rotated_at,
            "previous_until": previous_until if previous_until and previous_until > timezone.now() else None}


@require_http_methods(["GET", "POST"])
def pipeline_list(request, org_slug):
    org, actor = request.org, request.user
    require_scope(org=org, actor=actor, scope="model.view")
    may_manage = has_scope(org=org, actor=actor, scope="model.manage")
    datasets = list(dataset_selectors.dataset_list(org=org, actor=actor)[:DATASETS_SHOWN]) if may_manage else []
    form, status = (PipelineForm(datasets=datasets) if may_manage else None), 200
    if request.method == "POST":
        require_scope(org=org, actor=actor, scope="model.manage")
        form, status = PipelineForm(request.POST, datasets=datasets), 400
        if form.is_valid():
            dataset = access_dataset(org=org, actor=actor, dataset_id=form.cleaned_data["dataset"])
            graph = {"nodes": [{"id": "start", "type": "trigger", "config": {"kind": "manual"}},
                               {"id": "version", "type": "dataset_version",
                                "config": {"message": f"Made by {form.cleaned_data['name']}"[:500]}}],
                     "edges": [{"from": "start", "to": "version"}]}
            try:
                pipeline = pipelines.pipeline_create(org=org, actor=actor, name=form.cleaned_data["name"],
                                                     dataset=dataset, graph=graph)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"The pipeline {pipeline.name} was created: add its nodes here.")
                return redirect("automation:builder", org_slug=org.slug, pipeline_id=pipeline.pk)
    page = Paginator(selectors.pipeline_list(org=org).select_related("dataset"), PIPELINES_PER_PAGE).get_page(
        request.GET.get("page"))
    last = selectors.pipeline_last_runs(org=org, pipeline_ids=[p.pk for p in page.object_list])
    rows = [{"pipeline": p, "trigger": _trigger_of(p.graph), "last_run": last.get(p.pk)} for p in page.object_list]
    return render(request, "automation/pipeline_list.html",
                  {"page": page, "rows": rows, "form": form, "may_manage": may_manage}, status=status)


@require_GET
def pipeline_builder(request, org_slug, pipeline_id):
    org, actor = request.org, request.user
    pipeline = access_pipeline(org=org, actor=actor, pipeline_id=pipeline_id)
    may_manage = has_scope(org=org, actor=actor, scope="model.manage", obj=pipeline)
    runs = list(selectors.pipeline_run_list(pipeline=pipeline)[:20])
    builder = {
        "pipeline": {"id": pipeline.pk, "name": pipeline.name, "enabled": pipeline.enabled, "graph": pipeline.graph},
        "node_types": pipelines.node_type_forms(),
        "choices": {
            "model_version": [[v.pk, f"{v.model.name} v{v.number}"]
                              for v in selectors.ready_model_versions(org=org)[:CHOICES_SHOWN]],
            "task": [[t.pk, t.name] for t in selectors.open_tasks_of_dataset(dataset=pipeline.dataset)[:CHOICES_SHOWN]],
        },
        "items": [[i.pk, f"{i.folder.rstrip('/')}/{i.name}"] for i in
                  dataset_selectors.item_list(dataset=pipeline.dataset).order_by("-id")[:DRY_RUN_ITEMS_SHOWN]],
        "max_dry_run": pipeline_engine.MAX_DRY_RUN_ITEMS,
        "may_manage": may_manage,
        "urls": {"pipeline": reverse("api:pipeline-detail", args=[pipeline.pk]),
                 "validate": reverse("api:pipeline-validate", args=[pipeline.pk]),
                 "run": reverse("api:pipeline-run", args=[pipeline.pk]),
                 "monitor": reverse("automation:run", args=[org.slug, 0]).replace("/0/", "/{id}/")},
    }
    author_is_member = selectors.pipeline_author_is_member(pipeline)
    return render(request, "automation/builder.html",
                  {"pipeline": pipeline, "runs": runs, "builder": builder, "may_manage": may_manage,
                   "author_is_member": author_is_member, "webhook_nodes": _webhook_nodes(pipeline.graph),
                   "webhook_secret": _webhook_secret_facts(pipeline),
                   "items_waiting": 0 if author_is_member else selectors.pipeline_items_waiting(pipeline)})


@require_POST
def pipeline_take_over(request, org_slug, pipeline_id):
    pipeline = access_pipeline(org=request.org, actor=request.user, pipeline_id=pipeline_id, scope="model.manage")
    try:
        pipelines.pipeline_take_over(org=request.org, actor=request.user, pipeline=pipeline)
    except (ConflictError, ValidationError) as exc:
        messages.error(request, getattr(exc, "message", None) or "; ".join(exc.messages))
    else:
        messages.success(request, "Its triggered runs now act as you; items that waited are starting.")
    return redirect("automation:builder", org_slug=request.org.slug, pipeline_id=pipeline.pk)


@never_cache
@require_http_methods(["GET", "POST"])
def pipeline_webhook_secret_rotate_page(request, org_slug, pipeline_id):
    """Asks first (GET), then rotates (POST) the pipeline's webhook secret: the API's service, so the same scope
    check and the same pipeline.webhook_secret_rotated audit event. The new secret is in this one answer only
    (never in a message, the session or a cache), like the API's rotate answer."""
    org, actor = request.org, request.user
    pipeline = access_pipeline(org=org, actor=actor, pipeline_id=pipeline_id, scope="model.manage")
    form = WebhookSecretRotateForm(request.POST if request.method == "POST" else None,
                                   default_grace=settings.WEBHOOK_SECRET_GRACE_SECONDS)
    status = 400  # when the form has errors: a bad choice, or what the service refused
    if form.is_bound and form.is_valid():
        had_secret, grace = bool(pipeline.webhook_secret_sealed), form.cleaned_data["grace_seconds"]
        try:
            secret, previous_until = pipeline_webhook_secret_rotate(org=org, actor=actor, pipeline=pipeline,
                                                                    grace_seconds=grace)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc) or "You may not rotate this pipeline's secret.")
            status = 403
        except KeyUnavailable as exc:
            form.add_error(None, f"The organisation's key cannot be used, so no new secret was made: {exc} "
                                 "Nothing was changed.")
            status = 409
        else:
            return render(request, "automation/webhook_secret_shown.html", {
                "pipeline": pipeline, "secret": secret, "had_secret": had_secret, "grace_words": duration_words(grace),
                "grace_seconds": grace, "previous_until": previous_until})
    return render(request, "automation/webhook_secret_rotate.html", {
        "pipeline": pipeline, "form": form, "webhook_nodes": _webhook_nodes(pipeline.graph),
        "webhook_secret": _webhook_secret_facts(pipeline),
    }, status=status if form.errors else 200)


@require_GET
def pipeline_run_monitor(request, org_slug, run_id):
    org, actor = request.org, request.user
    run = access_pipeline_run(org=org, actor=actor, run_id=run_id)
    summary = pipeline_engine.run_summary(run)
    statuses = list(NodeRun.Status.values)
    nodes = [{"id": node_id, "type": counts.get("type", ""), "counts": [counts.get(s, 0) for s in statuses]}
             for node_id, counts in summary["nodes"].items()]
    live = {"org_slug": org.slug, "run_id": run.pk, "run_url": reverse("api:pipeline-run-detail", args=[run.pk]),
            "retry_url": reverse("api:pipeline-run-retry-failed", args=[run.pk]), "statuses": statuses}
    return render(request, "automation/run_monitor.html", {
        "run": run, "pipeline": run.pipeline, "nodes": nodes, "failed": summary["failed"],
        "statuses": NodeRun.Status.choices, "live": live,
        "may_manage": has_scope(org=org, actor=actor, scope="model.manage", obj=run.pipeline)})


MODELS_PER_PAGE = 50
VERSIONS_COMPARED = 12
RATE_ROWS = [("Acceptance rate", "acceptance_rate"), ("Edit rate", "edit_rate"), ("Rejection rate", "rejection_rate"),
             ("Mean IoU of edited", "mean_iou_edited"), ("Precision", "precision"), ("Recall", "recall")]


@require_GET
def model_list(request, org_slug):
    org, actor = request.org, request.user
    require_scope(org=org, actor=actor, scope="model.view")
    page = Paginator(selectors.model_list(org=org), MODELS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "automation/model_list.html", {"page": page})


@require_GET
def model_detail(request, org_slug, model_id):
    """A model, its versions, and how people received each version's suggestions, the latest versions side by
    side (agreement.py says how each figure is counted)."""
    org, actor = request.org, request.user
    model = access_model(org=org, actor=actor, model_id=model_id)
    form = AgreementPeriodForm(request.GET or None)
    since = until = None
    if form.is_bound and form.is_valid():
        since, until = form.cleaned_data.get("since"), form.cleaned_data.get("until")
    versions = list(selectors.model_version_list(model=model)[:VERSIONS_COMPARED])
    figures = selectors.model_versions_agreement(org=org, versions=versions, since=since, until=until) \
        if not form.errors else {}
    columns = [{"version": v, "figures": figures.get(v.pk)} for v in versions]
    rate_rows = [{"name": name, "key": key, "values": [(c["figures"] or {}).get(key) for c in columns]}
                 for name, key in RATE_ROWS]
    return render(request, "automation/model_detail.html", {
        "model": model, "columns": columns, "rate_rows": rate_rows, "form": form, "period_ok": not form.errors,
    }, status=400 if form.errors else 200)
