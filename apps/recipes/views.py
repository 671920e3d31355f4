"""Pages of the recipes app: the recipe list (create, import) and the recipe editor (draft, publish, versions,
datasets that use it).

The editor is static/js/recipes/editor.js working over the API (PATCH the draft, publish, preview and apply a
label migration). What the page renders on the server is the read-only recipe (annotators and reviewers see only
that) and forms that work without JavaScript: the draft as JSON, publish with a migration map as JSON, link a
dataset. Every recipe and dataset goes through an access_* helper; writes go through the services the API uses.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Func, IntegerField
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.forms import error_sentences
from apps.datasets import selectors as dataset_selectors
from apps.datasets.access import access_dataset
from apps.tenancy.permissions import has_scope, require_scope

from . import selectors, services
from .access import access_recipe
from .forms import DatasetLinkForm, PublishForm, RecipeForm, RecipeImportForm, SpecJsonForm
from .spec import ATTRIBUTE_TYPES, PALETTE, TOOLS, clean_instructions

RECIPES_PER_PAGE = 50
VERSIONS_SHOWN = 100
# The link form lists this many datasets; which of them use the recipe costs one query each (see the report).
DATASETS_SHOWN = 100


class JsonArrayLength(Func):
    """The length of a JSON array, counted by the database so the list never loads whole drafts."""

    function = "jsonb_array_length"
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="json_array_length", **extra)


def _add_errors(form, exc: ValidationError) -> None:
    """Errors on a form field go next to it; errors deeper in the document go above the form, with their path."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for path, errors in exc.message_dict.items():
        if path in form.fields:
            form.add_error(path, errors)
        else:
            form.add_error(None, [f"{path}: {message}" for message in errors])


# --- Recipe list -------------------------------------------------------------------------------


def _render_list(request, *, form=None, import_form=None, status=200):
    org, actor = request.org, request.user
    may_manage = has_scope(org=org, actor=actor, scope="recipe.manage")
    recipes = (selectors.recipe_list(org=org).defer("draft")
               .annotate(label_count=JsonArrayLength(F("draft__labels"))))
    context = {
        "page": Paginator(recipes, RECIPES_PER_PAGE).get_page(request.GET.get("page")),
        "may_manage": may_manage,
        "form": (form or RecipeForm()) if may_manage else None,
        "import_form": (import_form or RecipeImportForm(auto_id="import_%s")) if may_manage else None,
    }
    return render(request, "recipes/recipe_list.html", context, status=status)


@require_http_methods(["GET", "POST"])
def recipe_list(request, org_slug):
    org, actor = request.org, request.user
    require_scope(org=org, actor=actor, scope="recipe.view")
    if request.method != "POST":
        return _render_list(request)
    require_scope(org=org, actor=actor, scope="recipe.manage")
    form = RecipeForm(request.POST)
    if form.is_valid():
        try:
            recipe = services.recipe_create(org=org, actor=actor, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"The recipe {recipe.name} was created. Add its labels here.")
            return redirect("recipes:editor", org_slug=org.slug, recipe_id=recipe.pk)
    return _render_list(request, form=form, status=400)


@require_POST
def recipe_import(request, org_slug):
    org, actor = request.org, request.user
    require_scope(org=org, actor=actor, scope="recipe.manage")
    form = RecipeImportForm(request.POST, request.FILES, auto_id="import_%s")
    if form.is_valid():
        try:
            recipe = services.recipe_import(org=org, actor=actor, document=form.cleaned_data["file"],
                                            name=form.cleaned_data["name"] or None)
        except ValidationError as exc:
            for text in error_sentences(exc):
                form.add_error("file" if not text.startswith("name:") else "name", text)
        else:
            messages.success(request, f"The recipe {recipe.name} was imported as a draft. Publish it to use it.")
            return redirect("recipes:editor", org_slug=org.slug, recipe_id=recipe.pk)
    return _render_list(request, import_form=form, status=400)


# --- Recipe editor -----------------------------------------------------------------------------


def _linkable_datasets(request, recipe):
    """(datasets the actor may link, datasets among them that use this recipe), or ([], []) without the scope."""
    org, actor = request.org, request.user
    if not has_scope(org=org, actor=actor, scope="dataset.manage"):
        return [], []
    datasets = list(dataset_selectors.dataset_list(org=org, actor=actor)[:DATASETS_SHOWN])
    linked = selectors.dataset_ids_using(org=org, recipe=recipe)
    using = [d for d in datasets if d.pk in linked]
    return datasets, using


def _render_editor(request, recipe, *, json_form=None, publish_form=None, link_form=None, status=200):
    org, actor = request.org, request.user
    may_manage = has_scope(org=org, actor=actor, scope="recipe.manage", obj=recipe)
    latest = selectors.recipe_latest_version(recipe=recipe)
    versions = (selectors.recipe_version_list(recipe=recipe).select_related("published_by")
                .defer("spec")[:VERSIONS_SHOWN])
    # Managers edit the draft; the workforce reads what it annotates with, the latest version.
    shown_spec = recipe.draft if may_manage or latest is None else latest.spec
    datasets, using = _linkable_datasets(request, recipe) if may_manage else ([], [])
    context = {
        "recipe": recipe,
        "may_manage": may_manage,
        "latest": latest,
        "versions": versions,
        "shown_spec": shown_spec,
        "shown_is_draft": shown_spec is recipe.draft,
        "instructions_html": mark_safe(clean_instructions(shown_spec.get("instructions") or "")),  # noqa: S308
        "datasets_using": using,
        "export_url": reverse("api:recipe-export", args=[recipe.pk]),
    }
    if may_manage:
        context.update({
            "json_form": json_form or SpecJsonForm(initial={
                "name": recipe.name, "description": recipe.description,
                "spec": SpecJsonForm.text_of(recipe.draft)}, auto_id="json_%s"),
            "publish_form": publish_form or PublishForm(auto_id="publish_%s"),
            "link_form": (link_form or DatasetLinkForm(datasets=datasets, auto_id="link_%s")) if datasets else None,
            "state": {
                "recipe": {"id": recipe.pk, "name": recipe.name, "description": recipe.description,
                           "draft": recipe.draft, "latestVersion": recipe.latest_version_number},
                "previous": {"number": latest.number, "spec": latest.spec} if latest else None,
                "tools": list(TOOLS),
                "attributeTypes": list(ATTRIBUTE_TYPES),
                "palette": list(PALETTE),
                "orgSlug": org.slug,
                "urls": {
                    "recipe": reverse("api:recipe-detail", args=[recipe.pk]),
                    "publish": reverse("api:recipe-publish", args=[recipe.pk]),
                    "preview": reverse("api:recipe-migration-preview", args=[recipe.pk]),
                    "migrations": reverse("api:recipe-migrations", args=[recipe.pk]),
                    "run": reverse("api:label-migration-detail", args=[0]),
                    "export": reverse("api:recipe-export", args=[recipe.pk]),
                },
            },
        })
    return render(request, "recipes/editor.html", context, status=status)


@require_http_methods(["GET", "POST"])
def recipe_editor(request, org_slug, recipe_id):
    """The editor; a POST saves the draft sent as JSON (the Advanced section, and the page without JavaScript)."""
    org, actor = request.org, request.user
    if request.method != "POST":
        return _render_editor(request, access_recipe(org=org, actor=actor, recipe_id=recipe_id))
    recipe = access_recipe(org=org, actor=actor, recipe_id=recipe_id, scope="recipe.manage")
    form = SpecJsonForm(request.POST, auto_id="json_%s")
    if form.is_valid():
        try:
            services.recipe_update(org=org, actor=actor, recipe=recipe, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
            recipe.refresh_from_db()
        else:
            messages.success(request, "The draft was saved.")
            return redirect("recipes:editor", org_slug=org.slug, recipe_id=recipe.pk)
    return _render_editor(request, recipe, json_form=form, status=400)


@require_POST
def recipe_publish(request, org_slug, recipe_id):
    org, actor = request.org, request.user
    recipe = access_recipe(org=org, actor=actor, recipe_id=recipe_id, scope="recipe.manage")
    form = PublishForm(request.POST, auto_id="publish_%s")
    if form.is_valid():
        try:
            version = services.recipe_publish(org=org, actor=actor, recipe=recipe, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Version {version.number} was published.")
            return redirect("recipes:editor", org_slug=org.slug, recipe_id=recipe.pk)
    return _render_editor(request, recipe, publish_form=form, status=400)


@require_POST
def recipe_dataset_set(request, org_slug, recipe_id):
    """Makes this recipe the one a dataset is annotated with (the studio opened from the dataset browser)."""
    org, actor = request.org, request.user
    recipe = access_recipe(org=org, actor=actor, recipe_id=recipe_id, scope="recipe.manage")
    datasets, _using = _linkable_datasets(request, recipe)
    form = DatasetLinkForm(request.POST, datasets=datasets, auto_id="link_%s")
    if not form.is_valid():
        return _render_editor(request, recipe, link_form=form, status=400)
    dataset = access_dataset(org=org, actor=actor, dataset_id=form.cleaned_data["dataset"], scope="dataset.manage")
    try:
        services.dataset_recipe_set(org=org, actor=actor, dataset=dataset, recipe=recipe)
    except ValidationError as exc:
        for text in error_sentences(exc):
            form.add_error("dataset", text.removeprefix("recipe_id: "))
        return _render_editor(request, recipe, link_form=form, status=400)
    messages.success(request, f"The dataset {dataset.name} now uses {recipe.name}.")
    return redirect("recipes:editor", org_slug=org.slug, recipe_id=recipe.pk)


@require_http_methods(["GET", "POST"])
def recipe_delete(request, org_slug, recipe_id):
    org, actor = request.org, request.user
    recipe = access_recipe(org=org, actor=actor, recipe_id=recipe_id, scope="recipe.manage")
    if request.method != "POST":
        return render(request, "recipes/recipe_delete.html", {"recipe": recipe})
    try:
        services.recipe_delete(org=org, actor=actor, recipe=recipe)
    except ValidationError as exc:
        for text in error_sentences(exc):
            messages.error(request, text.removeprefix("recipe: "))
        return redirect("recipes:editor", org_slug=org.slug, recipe_id=recipe.pk)
    messages.success(request, f"The recipe {recipe.name} was deleted.")
    return redirect("recipes:list", org_slug=org.slug)
