"""Pages of the datasets app: the dataset list, the dataset browser, uploads and imports, one item.

Org pages live under /o/<org_slug>/: TenantMiddleware has checked the membership. Every dataset, item, import
and saved filter is fetched through an access_* helper (another tenant's id, or a dataset not granted, is the
same 404); writes go through the services the API uses. The browser renders one keyset page, counted the way
the API counts ("about N" past ten thousand), and static/js/datasets/ takes over from there.
"""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.forms import add_service_errors, error_sentences
from apps.core.ids import parse_id
from apps.tenancy.permissions import actor_role, has_scope, require_scope
from apps.tenancy.roles import role_has_scope

from . import intake, selectors, services
from .access import access_dataset, access_import_job, access_item, access_saved_filter
from .forms import (
    BUILDER_FIELDS,
    BUILDER_OPERATORS,
    SORT_CHOICES,
    BrowserQuery,
    BuilderRow,
    BulkForm,
    DatasetForm,
    DatasetRegisterForm,
    FilesUploadForm,
    ImportForm,
    ItemEditForm,
    LegalHoldForm,
    MetadataForm,
    SavedFilterForm,
    back_params,
    merge_patch_between,
)
from .models import Item

BROWSER_PAGE_SIZE = 60
DATASETS_PER_PAGE = 50
ROW_ERRORS_PER_PAGE = 100
RECENT_IMPORTS = 10


def _items(count: int) -> str:
    return f"{count:,} item{'' if count == 1 else 's'}"


def _count_text(count: int | None, exact: bool) -> str:
    if count is None:
        return ""
    noun = "item" if count == 1 else "items"
    return f"{count:,} {noun}" if exact else f"about {count:,} {noun}"


# --- Dataset list ------------------------------------------------------------------------------


def _browsable_ids(org, actor, datasets) -> set[int]:
    """The datasets on this page whose items the actor may browse (a compliance officer sees only that they exist)."""
    if role_has_scope(actor_role(org=org, actor=actor) or "", "item.view"):
        return {dataset.pk for dataset in datasets}
    return {dataset.pk for dataset in datasets if has_scope(org=org, actor=actor, scope="item.view", obj=dataset)}


@require_http_methods(["GET", "POST"])
def dataset_list(request, org_slug):
    org, actor = request.org, request.user
    may_create = has_scope(org=org, actor=actor, scope="dataset.create")
    form, status = (DatasetForm() if may_create else None), 200
    if request.method == "POST":
        require_scope(org=org, actor=actor, scope="dataset.create")
        form, status = DatasetForm(request.POST), 400
        if form.is_valid():
            try:
                dataset = services.dataset_create(org=org, actor=actor, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"The dataset {dataset.name} was created. Add items to it here.")
                return redirect("datasets:upload", org_slug=org.slug, dataset_id=dataset.pk)
    page = Paginator(selectors.dataset_list(org=org, actor=actor).select_related("created_by"),
                     DATASETS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "form": form, "browsable": _browsable_ids(org, actor, page.object_list)}
    return render(request, "datasets/dataset_list.html", context, status=status)


# --- Browser -----------------------------------------------------------------------------------


def _folder_tree(paths: list[str], query: BrowserQuery, browser_url: str) -> list[dict]:
    """Every folder and its parents, in path order, with its depth and last segment for the sidebar."""
    every = {"/"}
    for path in paths:
        parts = [p for p in path.split("/") if p]
        every.update("/" + "/".join(parts[:n]) for n in range(1, len(parts) + 1))
    tree = []
    for path in sorted(every):
        parts = [p for p in path.split("/") if p]
        tree.append({
            "path": path, "name": parts[-1] if parts else "/ (top level)", "parent": "/".join(parts[:-1]),
            "depth": min(len(parts), 8), "current": path == query.folder, "url": query.url(browser_url, folder=path),
        })
    return tree


def _browser_context(request, dataset, query: BrowserQuery) -> dict:
    org, actor = request.org, request.user
    errors = list(query.errors)
    result = None
    if not errors:
        try:
            result = selectors.item_query(dataset=dataset, filter=query.effective_filter, sort=query.sort,
                                          page_size=BROWSER_PAGE_SIZE, cursor=query.cursor)
        except ValidationError as exc:
            errors = error_sentences(exc)
    items = result.items if result else []
    services.items_listed(org=org, actor=actor, dataset=dataset, item_ids=[item.pk for item in items])
    path = reverse("datasets:browser", args=[org.slug, dataset.pk])
    sort_choices = list(SORT_CHOICES)
    if query.sort_value not in dict(sort_choices):
        sort_choices.append((query.sort_value, f"Custom: {query.sort_value}"))
    may_change = has_scope(org=org, actor=actor, scope="item.change", obj=dataset)
    return {
        "dataset": dataset,
        "query": query,
        "items": items,
        "errors": errors,
        "count_text": _count_text(result.count, result.count_exact) if result else "",
        "next_url": query.url(path, cursor=result.next_cursor) if result and result.next_cursor else None,
        "first_page_url": query.url(path) if query.cursor else None,
        "clear_url": path,
        "builder_rows": (query.rows or []) + [BuilderRow()],
        "builder_complex": query.rows is None,
        "builder_fields": BUILDER_FIELDS,
        "builder_operators": [(value, label) for value, label, _op in BUILDER_OPERATORS],
        "sort_choices": sort_choices,
        "kinds": Item.Kind.choices,
        "statuses": Item.Status.choices,
        "folders": _folder_tree(selectors.folder_paths(dataset=dataset), query, path),
        "all_folders_url": query.url(path, folder=None),
        "saved_filters": selectors.saved_filter_list(dataset=dataset)[:100],
        "may_change": may_change,
        "bulk_form": BulkForm(initial={"target": "selected"}, auto_id="bulk_%s") if may_change else None,
        "save_form": SavedFilterForm(auto_id="save_%s"),
        "effective_filter_json": json.dumps(query.effective_filter, ensure_ascii=False) if not query.errors else "",
        "back_query": query.url(""),
        "state": {
            "dataset": dataset.pk,
            "filter": query.filter if not query.errors else {},
            "folder": query.folder,
            "sort": query.sort,
            "effectiveFilter": query.effective_filter if not query.errors else {},
            "nextCursor": result.next_cursor if result else None,
            "count": result.count if result else None,
            "countExact": result.count_exact if result else True,
            "pageSize": BROWSER_PAGE_SIZE,
            "queryUrl": reverse("api:dataset-items-query", args=[dataset.pk]),
            "itemUrl": reverse("datasets:item", args=[org.slug, 0]),
            "browserUrl": path,
            "mayChange": may_change,
        },
    }


@require_GET
def dataset_browser(request, org_slug, dataset_id):
    dataset = access_dataset(org=request.org, actor=request.user, dataset_id=dataset_id, scope="item.view")
    saved = None
    if request.GET.get("saved"):
        saved = access_saved_filter(org=request.org, actor=request.user, saved_filter_id=request.GET["saved"])
        if saved.dataset_id != dataset.pk:
            raise Http404("No such saved filter on this dataset.")
    query = BrowserQuery.from_params(request.GET, saved=saved)
    context = _browser_context(request, dataset, query)
    return render(request, "datasets/browser.html", context, status=400 if context["errors"] else 200)


def _back_to_browser(request, dataset, back: str):
    return redirect(reverse("datasets:browser", args=[request.org.slug, dataset.pk]) + back_params(back))


@require_POST
def items_bulk(request, org_slug, dataset_id):
    """Moves, sets a metadata key on, or deletes the selected items, or every item matching the filter."""
    org, actor = request.org, request.user
    dataset = access_dataset(org=org, actor=actor, dataset_id=dataset_id, scope="item.change")
    ids = sorted({pk for pk in map(parse_id, request.POST.getlist("item")) if pk})
    form = BulkForm(request.POST, item_ids=ids)
    back = request.POST.get("back", "")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _back_to_browser(request, dataset, back)
    data = form.cleaned_data
    selected = data["target"] == "selected"
    try:
        # The query language has no id field: a selection is the dataset's items with those ids.
        items = (selectors.item_list_by_ids(dataset=dataset, ids=ids) if selected
                 else selectors.item_filter(dataset=dataset, filter=data["filter"]))
        if data["action"] == "delete" and not data["confirm"]:
            result = None if selected else selectors.item_query(dataset=dataset, filter=data["filter"], page_size=1)
            count = items.count() if selected else result.count
            return render(request, "datasets/bulk_confirm.html", {
                "dataset": dataset, "form": form, "ids": ids, "matching": not selected, "back": back_params(back),
                "count": count, "count_label": f"{count:,}", "count_exact": selected or result.count_exact,
            })
        if data["action"] == "delete" and selected:
            deleted = services.items_delete_by_ids(org=org, actor=actor, dataset=dataset, ids=ids)
            messages.success(request, f"Deleted {_items(deleted)}.")
        elif data["action"] == "delete":
            count, queued = services.items_bulk_delete(org=org, actor=actor, dataset=dataset, filter=data["filter"])
            messages.success(request, f"About {_items(count)} are being deleted in the background; they disappear "
                                      "batch by batch." if queued else f"Deleted {_items(count)}.")
        else:
            count = services.items_bulk_update(
                org=org, actor=actor, dataset=dataset, items=items,
                folder=data["to_folder"] if data["action"] == "move" else None,
                set_metadata=data.get("set_metadata") if data["action"] == "set_metadata" else None,
            )
            done = (f"moved to {data['to_folder']}" if data["action"] == "move"
                    else f"given the metadata key {next(iter(data['set_metadata']))}")
            messages.success(request, f"{_items(count).capitalize()} {done}.")
    except ValidationError as exc:
        for text in error_sentences(exc):
            messages.error(request, text)
    return _back_to_browser(request, dataset, back)


@require_POST
def saved_filter_create(request, org_slug, dataset_id):
    org, actor = request.org, request.user
    dataset = access_dataset(org=org, actor=actor, dataset_id=dataset_id, scope="item.view")
    form = SavedFilterForm(request.POST)
    back = request.POST.get("back", "")
    if form.is_valid():
        try:
            saved = services.saved_filter_create(org=org, actor=actor, dataset=dataset, **form.cleaned_data)
        except ValidationError as exc:
            for text in error_sentences(exc):
                messages.error(request, f"The filter was not saved: {text}")
        else:
            messages.success(request, f"The filter {saved.name} was saved.")
            return redirect(reverse("datasets:browser", args=[org.slug, dataset.pk]) + f"?saved={saved.pk}")
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"The filter was not saved: {error}")
    return _back_to_browser(request, dataset, back)


@require_POST
def saved_filter_delete(request, org_slug, saved_filter_id):
    saved = access_saved_filter(org=request.org, actor=request.user, saved_filter_id=saved_filter_id)
    services.saved_filter_delete(org=request.org, actor=request.user, saved_filter=saved)
    messages.success(request, f"The saved filter {saved.name} was deleted.")
    return redirect("datasets:browser", org_slug=request.org.slug, dataset_id=saved.dataset_id)


# --- Uploads and imports -----------------------------------------------------------------------


def _render_upload(request, dataset, *, upload_form=None, import_form=None, status=200):
    context = {
        "dataset": dataset,
        "upload_form": upload_form or FilesUploadForm(),
        "import_form": import_form or ImportForm(),
        "imports": selectors.import_job_list(dataset=dataset)[:RECENT_IMPORTS],
        "state": {
            "dataset": dataset.pk,
            "itemsUrl": reverse("api:dataset-items", args=[dataset.pk]),
            "importsUrl": reverse("api:dataset-imports", args=[dataset.pk]),
            "importUrl": reverse("api:import-detail", args=[0]),
            "errorsPageUrl": reverse("datasets:import_errors", args=[request.org.slug, 0]),
            "itemUrl": reverse("datasets:item", args=[request.org.slug, 0]),
            "orgSlug": request.org.slug,
        },
    }
    return render(request, "datasets/upload.html", context, status=status)


@require_http_methods(["GET", "POST"])
def dataset_upload(request, org_slug, dataset_id):
    """Uploads files as items (the page's script sends them one by one to the API, with progress)."""
    org, actor = request.org, request.user
    dataset = access_dataset(org=org, actor=actor, dataset_id=dataset_id, scope="item.change")
    if request.method != "POST":
        return _render_upload(request, dataset)
    form = FilesUploadForm(request.POST)
    if form.is_valid():
        try:
            items = intake.items_upload(org=org, actor=actor, dataset=dataset, files=request.FILES.getlist("files"),
                                        folder=form.cleaned_data["folder"] or "/")
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Uploaded {len(items)} item{'s' if len(items) != 1 else ''}.")
            return redirect("datasets:browser", org_slug=org.slug, dataset_id=dataset.pk)
    return _render_upload(request, dataset, upload_form=form, status=400)


@require_POST
def import_start(request, org_slug, dataset_id):
    org, actor = request.org, request.user
    dataset = access_dataset(org=org, actor=actor, dataset_id=dataset_id, scope="item.change")
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            job = intake.import_start(org=org, actor=actor, dataset=dataset, upload=form.cleaned_data["file"],
                                      folder=form.cleaned_data["folder"] or "/")
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"The import of {job.message or 'your file'} started. Its progress shows below.")
            return redirect("datasets:upload", org_slug=org.slug, dataset_id=dataset.pk)
    return _render_upload(request, dataset, import_form=form, status=400)


@require_GET
def import_errors(request, org_slug, job_id):
    job = access_import_job(org=request.org, actor=request.user, job_id=job_id)
    page = Paginator(selectors.import_row_errors(job=job), ROW_ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "datasets/import_errors.html", {"job": job, "dataset": job.dataset, "page": page})


# --- One item ----------------------------------------------------------------------------------


def _render_item(request, item, *, edit_form=None, metadata_form=None, status=200):
    may_change = has_scope(org=request.org, actor=request.user, scope="item.change", obj=item.dataset)
    context = {
        "item": item,
        "dataset": item.dataset,
        "may_change": may_change,
        "content_url": reverse("api:item-content", args=[item.pk]) if item.blob_id else None,
        "edit_form": edit_form or ItemEditForm(initial={"name": item.name, "folder": item.folder}),
        "metadata_form": metadata_form or MetadataForm(initial={"metadata": MetadataForm.text_of(item.metadata)}),
        "metadata_text": MetadataForm.text_of(item.metadata),
        "size_bytes": f"{item.size:,}" if item.size is not None else "",
        "kinds": Item.Kind,
    }
    return render(request, "datasets/item.html", context, status=status)


@require_GET
def item_detail(request, org_slug, item_id):
    item = access_item(org=request.org, actor=request.user, item_id=item_id)
    services.item_metadata_read(org=request.org, actor=request.user, item=item, via="item page")
    return _render_item(request, item)


@require_POST
def item_edit(request, org_slug, item_id):
    item = access_item(org=request.org, actor=request.user, item_id=item_id, scope="item.change")
    form = ItemEditForm(request.POST)
    if form.is_valid():
        try:
            services.item_update(org=request.org, actor=request.user, item=item, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
            item.refresh_from_db(fields=["name", "folder"])
        else:
            messages.success(request, f"Saved: {item.name} in {item.folder}.")
            return redirect("datasets:item", org_slug=request.org.slug, item_id=item.pk)
    return _render_item(request, item, edit_form=form, status=400)


@require_POST
def item_metadata(request, org_slug, item_id):
    item = access_item(org=request.org, actor=request.user, item_id=item_id, scope="item.change")
    form = MetadataForm(request.POST)
    if form.is_valid():
        patch = merge_patch_between(item.metadata or {}, form.cleaned_data["metadata"])
        try:
            services.item_update(org=request.org, actor=request.user, item=item, metadata_patch=patch)
        except ValidationError as exc:
            add_service_errors(form, exc)
            item.refresh_from_db(fields=["metadata"])
        else:
            messages.success(request, "The metadata was saved." if patch else "Nothing changed in the metadata.")
            return redirect("datasets:item", org_slug=request.org.slug, item_id=item.pk)
    return _render_item(request, item, metadata_form=form, status=400)


@require_http_methods(["GET", "POST"])
def item_delete(request, org_slug, item_id):
    item = access_item(org=request.org, actor=request.user, item_id=item_id, scope="item.change")
    error = None
    if request.method == "POST":
        try:
            services.item_delete(org=request.org, actor=request.user, item=item)
        except (ValidationError, PermissionDenied) as exc:
            error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        else:
            messages.success(request, f"{item.name} was deleted.")
            return redirect("datasets:browser", org_slug=request.org.slug, dataset_id=item.dataset_id)
    return render(request, "datasets/item_delete.html", {"item": item, "dataset": item.dataset, "error": error},
                  status=400 if error else 200)


@require_http_methods(["GET", "POST"])
def dataset_settings(request, org_slug, dataset_id):
    """The dataset's settings: its legal hold, placed with a reason or lifted through the service the API's PATCH
    uses (audited as dataset.legal_hold_placed / _lifted). Those who may view the dataset see the hold."""
    from .retention import dataset_legal_hold_set

    org, actor = request.org, request.user
    dataset = access_dataset(org=org, actor=actor, dataset_id=dataset_id)
    posted = request.POST.get("section", "hold") if request.method == "POST" else None
    form = LegalHoldForm(request.POST if posted == "hold" else None,
                         initial={"legal_hold": dataset.legal_hold, "legal_hold_reason": dataset.legal_hold_reason})
    register = DatasetRegisterForm(request.POST if posted == "register" else None, dataset=dataset)
    if posted == "hold" and form.is_valid():
        try:
            dataset = dataset_legal_hold_set(org=org, actor=actor, dataset=dataset, on=form.cleaned_data["legal_hold"],
                                             reason=form.cleaned_data["legal_hold_reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{dataset.name} is now under legal hold." if dataset.legal_hold
                             else f"The legal hold on {dataset.name} is lifted.")
            return redirect("datasets:settings", org_slug=org.slug, dataset_id=dataset.pk)
    if posted == "register" and register.is_valid():
        try:
            dataset = services.dataset_update(org=org, actor=actor, dataset=dataset, **register.cleaned_data)
        except ValidationError as exc:
            add_service_errors(register, exc)
        else:
            messages.success(request, f"What the processing register says of {dataset.name} was saved.")
            return redirect("datasets:settings", org_slug=org.slug, dataset_id=dataset.pk)
    return render(request, "datasets/settings.html", {
        "dataset": dataset, "form": form, "register_form": register,
        "may_manage": has_scope(org=org, actor=actor, scope="dataset.manage", obj=dataset),
    }, status=400 if form.errors or register.errors else 200)
