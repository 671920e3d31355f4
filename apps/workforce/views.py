"""Pages of the workforce app.

- "My work": the caller's tasks with their progress, Start/Continue into the studio's queue mode, their history.
- Managers: the task list, the creation wizard (its query previewed live through the dataset query API), and the
  task board: counts per stage and state and a table per member, live on the "tasks" websocket topic
  (static/js/workforce/board.js re-reads the counts from the API and the tables from `board_live`), pause/resume,
  members, reassigning a unit, gold items, and the work log as CSV.
- The studio in queue mode (templates/annotations/studio.html with a "queue" block, static/js/studio/queue.js): the
  page names the task and stage; the script pulls units and opens them through the API (the unit's detail names its
  item, its layer's URLs and the model suggestions; the item's content comes from the datasets API, which lets a
  unit's holder read the item through the guard in annotation_layers.py, an audited read like any other).

Every write goes through the services the API uses; every task and unit through an access_* helper.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.annotations.views import editor_context
from apps.core.errors import ConflictError
from apps.datasets import selectors as dataset_selectors
from apps.datasets.access import access_dataset, access_item
from apps.recipes.access import access_recipe_version
from apps.recipes.selectors import dataset_recipe_version
from apps.storage.http import content_disposition
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope, require_scope
from apps.tenancy.selectors import membership_list

from . import selectors, services, unit_services
from .access import access_task, access_work_item
from .exports import for_server, task_worklog_export
from .forms import GoldForm, MemberAddForm, ReassignForm, TaskForm, TaskStatusForm
from .models import Task, TaskMember, WorkEvent, WorkItem

TASKS_PER_PAGE = 50
DATASETS_SHOWN = 200
PEOPLE_SHOWN = 500
HEARTBEAT_MS = 30_000  # the studio credits active time this often while the annotator is focused and busy
IDLE_MS = 60_000  # ... and "busy" means some input in the last minute
State, Stage = WorkItem.State, WorkItem.Stage
FINISHED = (State.DONE, State.APPROVED)
SUBMITTED_BY_ME = (State.SUBMITTED, State.IN_REVIEW, State.APPROVED, State.DONE)


def _progress(counts: dict[str, dict[str, int]]) -> dict:
    """What a progress bar shows for a task's unit counts: items' annotate units finished out of all live ones."""
    annotate = counts.get(Stage.ANNOTATE, {})
    total = sum(n for state, n in annotate.items() if state != State.CANCELLED)
    finished = sum(annotate.get(state, 0) for state in FINISHED)
    return {"total": total, "finished": finished, "percent": round(100 * finished / total) if total else 0,
            "in_review": annotate.get(State.IN_REVIEW, 0),
            "review_waiting": counts.get(Stage.REVIEW, {}).get(State.QUEUED, 0)}


def _words(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return " ".join(message for messages_ in exc.message_dict.values() for message in messages_)
        return " ".join(exc.messages)
    if isinstance(exc, ConflictError):
        return exc.message
    return str(exc)


def _url_template(url: str) -> str:
    """A URL reversed with 0 for its last id, as "{id}" for the page script to fill in."""
    at = url.rfind("/0/")
    return f"{url[:at]}/{{id}}/{url[at + 3:]}"


# --- My work ---------------------------------------------------------------------------------------------------

@require_GET
def my_work(request, org_slug):
    org, actor = request.org, request.user
    require_scope(org=org, actor=actor, scope="task.work")
    tasks: dict[int, tuple[Task, list[str]]] = {}
    for member in selectors.my_task_memberships(org=org, user=actor):
        tasks.setdefault(member.task_id, (member.task, []))[1].append(member.role)
    overall = selectors.task_unit_counts(org=org, task_ids=list(tasks))
    mine = selectors.task_unit_counts(org=org, task_ids=list(tasks), user=actor)
    rows = []
    for task_id, (task, roles) in tasks.items():
        annotate, review = mine[task_id][Stage.ANNOTATE], mine[task_id][Stage.REVIEW]
        rows.append({
            "task": task, "progress": _progress(overall[task_id]),
            "annotator": TaskMember.Role.ANNOTATOR in roles, "reviewer": TaskMember.Role.REVIEWER in roles,
            "holding": annotate.get(State.LEASED, 0) > 0 or annotate.get(State.REJECTED, 0) > 0,
            "to_fix": annotate.get(State.REJECTED, 0),
            "reviewing": review.get(State.LEASED, 0) > 0,
            "submitted": sum(annotate.get(state, 0) for state in SUBMITTED_BY_ME),
            "approved": annotate.get(State.APPROVED, 0),
            "reviewed": review.get(State.DONE, 0),
        })
    return render(request, "workforce/my_work.html", {"rows": rows, "history": _history(org, actor)})


def _history(org, actor) -> list:
    """The caller's recent events; a rejection carries the comments its reviewer wrote with it."""
    events = selectors.work_history(org=org, user=actor)
    rejected = [e for e in events if e.kind == WorkEvent.Kind.REJECTED]
    comments = selectors.comments_on_units(org=org, unit_ids={e.work_item_id for e in rejected})
    for event in events:
        event.comments = []
    for event in sorted(rejected, key=lambda e: e.at):
        number = (event.data or {}).get("round")
        if number is not None:  # the rejection's review round holds its comments
            event.comments = [c for c in comments if c.work_item_id == event.work_item_id and c.round is not None
                              and c.round.number == number]
            continue
        # (A rejection logged before review rounds existed.) Written in the same transaction as the rejection, by
        # its reviewer: at or just before it, after any earlier rejection of the same unit.
        earlier = [e.at for e in rejected if e.work_item_id == event.work_item_id and e.at < event.at]
        since = max(earlier) if earlier else None
        event.comments = [c for c in comments if c.work_item_id == event.work_item_id and c.author_id == event.actor_id
                          and c.created_at <= event.at and (since is None or c.created_at > since)]
    return events


# --- Task list and the creation wizard --------------------------------------------------------------------------

@require_GET
def task_list(request, org_slug):
    org, actor = request.org, request.user
    require_scope(org=org, actor=actor, scope="task.view")
    page = Paginator(selectors.task_list(org=org), TASKS_PER_PAGE).get_page(request.GET.get("page"))
    counts = selectors.task_unit_counts(org=org, task_ids=[task.pk for task in page.object_list])
    rows = [{"task": task, "progress": _progress(counts[task.pk])} for task in page.object_list]
    return render(request, "workforce/task_list.html", {
        "page": page, "rows": rows, "may_manage": has_scope(org=org, actor=actor, scope="task.manage")})


def _service_errors(form, exc: ValidationError) -> None:
    """The service's errors beside the fields they name; a query path goes beside the query."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for path, errors in exc.message_dict.items():
        if path in form.fields:
            form.add_error(path, errors)
        elif path == "non_field_errors" or path.startswith("members."):
            form.add_error(None, errors)
        else:
            form.add_error("query", [f"{path}: {message}" for message in errors])


@require_http_methods(["GET", "POST"])
def task_new(request, org_slug):
    org, actor = request.org, request.user
    require_scope(org=org, actor=actor, scope="task.manage")
    datasets = list(dataset_selectors.dataset_list(org=org, actor=actor)[:DATASETS_SHOWN])
    versions = selectors.recipe_versions_for_tasks(org=org)
    people = list(membership_list(org=org)[:PEOPLE_SHOWN])
    form = TaskForm(request.POST if request.method == "POST" else None, datasets=datasets, versions=versions,
                    people=people, initial={"dataset": request.GET.get("dataset")})
    if request.method == "POST" and form.is_valid():
        task = _create_task(request, form)
        if task is not None:
            messages.success(request, f"The task {task.name} was created.")
            return redirect("workforce:board", org_slug=org.slug, task_id=task.pk)
    wizard = {
        "query_url": _url_template(reverse("api:dataset-items-query", args=[0])),
        "default_versions": {str(k): v for k, v in
                             selectors.dataset_default_versions(org=org, dataset_ids=[d.pk for d in datasets]).items()},
    }
    return render(request, "workforce/task_new.html", {"form": form, "wizard": wizard},
                  status=400 if request.method == "POST" else 200)


def _create_task(request, form) -> Task | None:
    org, actor, data = request.org, request.user, dict(form.cleaned_data)
    dataset = access_dataset(org=org, actor=actor, dataset_id=data.pop("dataset"))
    version_id = data.pop("recipe_version")
    if version_id is not None:
        version = access_recipe_version(org=org, actor=actor, version_id=version_id)
    else:
        version = dataset_recipe_version(org=org, dataset=dataset)
        if version is None:
            form.add_error("recipe_version", f"{dataset.name} has no published recipe: choose a recipe version.")
            return None
    try:
        return services.task_create(org=org, actor=actor, dataset=dataset, recipe_version=version, **data)
    except ValidationError as exc:
        _service_errors(form, exc)
    return None


# --- The task board --------------------------------------------------------------------------------------------

def _board_people(request, task: Task) -> dict:
    """The members table and the units in progress: what board.js re-reads when an event arrives."""
    members = list(selectors.task_members(task=task))
    stats = selectors.task_member_stats(task=task)
    zero = {"leased": 0, "queued": 0, "to_fix": 0, "submitted": 0, "approved": 0, "rejected": 0, "reviewed": 0,
            "active_seconds": 0.0}
    active = [m for m in members if m.status == TaskMember.Status.ACTIVE]
    return {
        "task": task,
        "may_manage": has_scope(org=request.org, actor=request.user, scope="task.manage", obj=task),
        "member_rows": [{"member": m, "stats": stats.get(m.user_id, zero),
                         "active_minutes": round(stats.get(m.user_id, zero)["active_seconds"] / 60, 1)}
                        for m in members],
        "units": list(selectors.task_units_in_progress(task=task)),
        "annotators": [m.user for m in active if m.role == TaskMember.Role.ANNOTATOR],
        "reviewers": [m.user for m in active if m.role == TaskMember.Role.REVIEWER],
    }


@require_GET
def task_board(request, org_slug, task_id):
    org, actor = request.org, request.user
    task = access_task(org=org, actor=actor, task_id=task_id, scope="task.view")
    counts = selectors.task_counts(task=task)
    context = {
        **_board_people(request, task),
        "counts": [{"stage": stage, "label": label, "cells": [
            {"state": state, "n": counts[stage].get(state, 0)} for state in State.values]}
            for stage, label in Stage.choices],
        "states": State.choices,
        "progress": _progress(counts),
        "member_form": MemberAddForm(people=list(membership_list(org=org)[:PEOPLE_SHOWN]), auto_id="member_%s"),
        "gold_form": GoldForm(auto_id="gold_%s"),
        "live": {"task_url": reverse("api:task-detail", args=[task.pk]),
                 "people_url": reverse("workforce:board_live", args=[org.slug, task.pk]),
                 "org_slug": org.slug, "task_id": task.pk},
    }
    return render(request, "workforce/task_board.html", context)


@require_GET
def board_live(request, org_slug, task_id):
    task = access_task(org=request.org, actor=request.user, task_id=task_id, scope="task.view")
    return render(request, "workforce/_board_people.html", _board_people(request, task))


def _back(task: Task, org):
    return redirect("workforce:board", org_slug=org.slug, task_id=task.pk)


@require_POST
def task_status(request, org_slug, task_id):
    org, actor = request.org, request.user
    task = access_task(org=org, actor=actor, task_id=task_id, scope="task.manage")
    form = TaskStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to pause or to resume the task.")
        return _back(task, org)
    try:
        services.task_set_status(org=org, actor=actor, task=task, status=form.cleaned_data["status"])
    except ValidationError as exc:
        messages.error(request, _words(exc))
    else:
        messages.success(request, "The task is paused: no new work is handed out." if task.status == Task.Status.PAUSED
                         else "The task is active again.")
    return _back(task, org)


@require_POST
def member_add(request, org_slug, task_id):
    org, actor = request.org, request.user
    task = access_task(org=org, actor=actor, task_id=task_id, scope="task.manage")
    form = MemberAddForm(request.POST, people=list(membership_list(org=org)[:PEOPLE_SHOWN]))
    if not form.is_valid():
        messages.error(request, "Not added: " + " ".join(e for errors in form.errors.values() for e in errors))
        return _back(task, org)
    try:
        member = services.task_member_add(org=org, actor=actor, task=task, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, f"Not added: {_words(exc)}")
    else:
        messages.success(request, f"{member.user.email} works on this task as {member.get_role_display().lower()}.")
    return _back(task, org)


@require_POST
def member_remove(request, org_slug, task_id, user_id):
    org, actor = request.org, request.user
    task = access_task(org=org, actor=actor, task_id=task_id, scope="task.manage")
    try:
        released = services.task_member_remove(org=org, actor=actor, task=task, user_id=user_id)
    except ValidationError as exc:
        messages.error(request, f"Not removed: {_words(exc)}")
    else:
        messages.success(request, f"Removed from the task; {released} unit{'s' if released != 1 else ''} of theirs "
                                  f"went back to the queue.")
    return _back(task, org)


@require_POST
def unit_reassign(request, org_slug, task_id, unit_id):
    org, actor = request.org, request.user
    task = access_task(org=org, actor=actor, task_id=task_id, scope="task.manage")
    unit = access_work_item(org=org, actor=actor, unit_id=unit_id, scope="task.manage")
    if unit.task_id != task.pk:
        deny_not_found(org=org, actor=actor, target_type="workforce.workitem", target_id=unit_id, scope="task.manage")
    people = selectors.task_members(task=task).filter(status=TaskMember.Status.ACTIVE)
    form = ReassignForm(request.POST, people=[m.user for m in people])
    if not form.is_valid():
        messages.error(request, "Not reassigned: choose an active member of the task.")
        return _back(task, org)
    try:
        unit_services.work_item_reassign(org=org, actor=actor, unit=unit, user_id=form.cleaned_data["user_id"])
    except (ValidationError, ConflictError) as exc:
        messages.error(request, f"Not reassigned: {_words(exc)}")
    else:
        messages.success(request, f"Unit {unit.pk} ({unit.item.name}) was reassigned.")
    return _back(task, org)


@require_POST
def gold_add(request, org_slug, task_id):
    org, actor = request.org, request.user
    task = access_task(org=org, actor=actor, task_id=task_id, scope="task.manage")
    form = GoldForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not marked as gold: give the id of an item of the task's dataset.")
        return _back(task, org)
    try:
        item = access_item(org=org, actor=actor, item_id=form.cleaned_data["item_id"])
        services.task_gold_add(org=org, actor=actor, task=task, item=item)
    except Http404:
        messages.error(request, f"Not marked as gold: there is no item {form.cleaned_data['item_id']} you can see.")
    except ValidationError as exc:
        messages.error(request, f"Not marked as gold: {_words(exc)}")
    else:
        messages.success(request, f"{item.name} is a gold item of this task now.")
    return _back(task, org)


@require_GET
def task_worklog(request, org_slug, task_id):
    org, actor = request.org, request.user
    task = access_task(org=org, actor=actor, task_id=task_id, scope="task.manage")
    pieces = task_worklog_export(org=org, actor=actor, task=task)
    response = StreamingHttpResponse(for_server(request, pieces), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition(f"{task.name}-work-log.csv", inline=False)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- The studio in queue mode ------------------------------------------------------------------------------------

def queue_studio_context(request, *, task: Task, stage: str) -> dict:
    """The context of templates/annotations/studio.html for a task's queue: no item yet (the page script pulls
    one), the task's pinned recipe version, and the "queue" block of URLs the script works with."""
    org = request.org
    version = task.recipe_version
    may_edit = True  # an annotator edits the unit's layer; a reviewer may correct it before deciding
    queue = {
        "task_id": task.pk, "task_name": task.name, "stage": stage,
        "heartbeat_ms": HEARTBEAT_MS, "idle_ms": IDLE_MS,
        "urls": {
            "next": reverse("api:task-next", args=[task.pk]),
            "unit": _url_template(reverse("api:work-item-detail", args=[0])),
            "content": _url_template(reverse("api:item-content", args=[0])),
            "submit": _url_template(reverse("api:work-item-submit", args=[0])),
            "review": _url_template(reverse("api:work-item-review", args=[0])),
            "skip": _url_template(reverse("api:work-item-skip", args=[0])),
            "heartbeat": _url_template(reverse("api:work-item-heartbeat", args=[0])),
            "comments": _url_template(reverse("api:work-item-comments", args=[0])),
            "my_work": reverse("workforce:my_work", args=[org.slug]),
        },
    }
    data = {
        "item": None,
        "recipe_version": {"id": version.pk, "number": version.number, "spec": version.spec},
        "next_item": None,
        "can_edit": may_edit,
        "queue": queue,
    }
    return {
        **editor_context(version.spec, may_edit),
        "item": None,
        "task": task,
        "queue": queue,
        "reject_reasons": (version.spec.get("review") or {}).get("reject_reasons") or [],
        "dataset": task.dataset,
        "recipe_version": version,
        "next_item": None,
        "may_edit": may_edit,
        "editable_item": True,
        "studio_data": data,
    }


def _queue_page(request, task_id, stage: str):
    org, actor = request.org, request.user
    task = access_task(org=org, actor=actor, task_id=task_id, scope="task.work")
    role = TaskMember.Role.ANNOTATOR if stage == Stage.ANNOTATE else TaskMember.Role.REVIEWER
    if not selectors.task_member_has_role(task=task, user=actor, role=role):
        deny_not_found(org=org, actor=actor, target_type="workforce.task", target_id=task_id, scope="task.work")
    return render(request, "annotations/studio.html", queue_studio_context(request, task=task, stage=stage))


@require_GET
def queue_work(request, org_slug, task_id):
    return _queue_page(request, task_id, Stage.ANNOTATE)


@require_GET
def queue_review(request, org_slug, task_id):
    return _queue_page(request, task_id, Stage.REVIEW)
