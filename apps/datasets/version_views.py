"""Pages of a dataset's versions: make the next one, download one, see what changed since the one before, regenerate
a withdrawn one (the writes and reads are apps/datasets/version_services.py's and version_regeneration.py's, as the
API's are)."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.core.errors import ConflictError
from apps.core.forms import error_sentences
from apps.tenancy.permissions import has_scope

from . import version_regeneration, version_services
from .access import access_dataset
from .forms import _loads, json_problem

VERSIONS_PER_PAGE = 50


def _version_diff(request, dataset, errors: list[str]):
    """The diff the page shows: ?diff=<version> against ?against=<version>, or against the previous ready one."""
    org, actor = request.org, request.user
    version = version_services.access_dataset_version(org=org, actor=actor, version_id=request.GET["diff"])
    if version.dataset_id != dataset.pk:
        raise Http404("No such version of this dataset.")
    if request.GET.get("against"):
        against = version_services.access_dataset_version(org=org, actor=actor, version_id=request.GET["against"])
    else:
        against = version_services.dataset_version_previous(version=version)
    if against is None:
        errors.append(f"Version {version.number} has no earlier ready version to compare with.")
        return None
    try:
        return version_services.dataset_version_diff(org=org, actor=actor, version=version, against=against)
    except ValidationError as exc:
        errors.extend(error_sentences(exc))
    except ConflictError as exc:
        errors.append(exc.message)
    return None


@require_http_methods(["GET", "POST"])
def dataset_versions(request, org_slug, dataset_id):
    """The dataset's versions: make the next one, download one, see what changed since the one before."""
    org, actor = request.org, request.user
    dataset = access_dataset(org=org, actor=actor, dataset_id=dataset_id, scope="item.view")
    errors: list[str] = []
    status = 200
    form = {"message": "", "filter": ""}
    if request.method == "POST":
        form = {"message": request.POST.get("message", ""), "filter": request.POST.get("filter", "").strip()}
        try:
            filter = _loads(form["filter"]) if form["filter"] else {}
        except ValueError as exc:
            errors.append(f"filter: this is not JSON ({json_problem(exc)}).")
        else:
            try:
                version = version_services.dataset_version_create(org=org, actor=actor, dataset=dataset,
                                                                  message=form["message"], filter=filter)
            except ValidationError as exc:
                errors.extend(error_sentences(exc))
            except ConflictError as exc:
                errors.append(exc.message)
            else:
                messages.success(request, f"Version {version.number} is being built; it is ready when its status "
                                          "says so (reload to see).")
                return redirect("datasets:versions", org_slug=org.slug, dataset_id=dataset.pk)
        status = 400
    diff = _version_diff(request, dataset, errors) if request.GET.get("diff") else None
    page = Paginator(version_services.dataset_version_list(dataset=dataset), VERSIONS_PER_PAGE).get_page(
        request.GET.get("page"))
    for version in page.object_list:
        version.filter_text = json.dumps(version.filter, ensure_ascii=False) if version.filter else ""
    # A list, not the dict: a template would read `sections.items` as the section named "items".
    diff_rows = [
        {"name": name, "section": section,
         "columns": ", ".join(f"{column}: {count:,}" for column, count in section["changed"]["columns"].items()
                              if count)}
        for name, section in (diff or {}).get("sections", {}).items()
    ]
    return render(request, "datasets/versions.html", {
        "dataset": dataset, "page": page, "errors": errors, "form": form, "diff": diff, "diff_rows": diff_rows,
        "may_version": has_scope(org=org, actor=actor, scope="dataset.version", obj=dataset),
    }, status=status)


@require_http_methods(["POST"])
def dataset_version_regenerate(request, org_slug, dataset_id, version_id):
    """Regenerates a withdrawn version without the erased data, then back to the versions page saying so."""
    org, actor = request.org, request.user
    dataset = access_dataset(org=org, actor=actor, dataset_id=dataset_id, scope="item.view")
    version = version_services.access_dataset_version(org=org, actor=actor, version_id=version_id,
                                                      scope="dataset.version")
    if version.dataset_id != dataset.pk:
        raise Http404("No such version of this dataset.")
    try:
        regenerated = version_regeneration.dataset_version_regenerate(org=org, actor=actor, version=version)
    except ConflictError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Version {regenerated.number} is being built from version {version.number} "
                                  "without the erased data; it is ready when its status says so (reload to see).")
    return redirect("datasets:versions", org_slug=org.slug, dataset_id=dataset.pk)
