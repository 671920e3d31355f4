"""Pages of the performance app: a task's manager dashboard and a person's own scorecard.

Both render the frame server-side and draw their charts from the JSON report API (static/js/performance/*.js), which
they re-read when the "tasks" live topic says work changed (debounced). Every task goes through access_task.
"""

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.tenancy.permissions import require_scope
from apps.workforce.access import access_task

from . import selectors


@require_GET
def task_dashboard(request, org_slug, task_id):
    org, actor = request.org, request.user
    task = access_task(org=org, actor=actor, task_id=task_id, scope="task.view")
    config = {"report_url": reverse("api:task-performance", args=[task.pk]), "org_slug": org.slug,
              "task_id": task.pk}
    reasons = selectors.rejection_reasons(org_id=org.pk, group="annotator", task_id=task.pk)
    labels = selectors.person_labels(ids=reasons)
    rejection_rows = sorted(({"person": labels.get(person, f"#{person}"), "reason": reason, "count": n}
                             for person, counts in reasons.items() for reason, n in counts.items()),
                            key=lambda row: (row["person"], -row["count"], row["reason"]))
    return render(request, "performance/dashboard.html", {"task": task, "config": config,
                                                          "progress": selectors.task_progress(task=task),
                                                          "rejection_rows": rejection_rows})


@require_GET
def scorecard(request, org_slug):
    org, actor = request.org, request.user
    require_scope(org=org, actor=actor, scope="task.work")
    reviews = bool(selectors.member_ids(org_id=org.pk, task_id=None, stage="review", person_id=actor.pk))
    config = {"report_url": reverse("api:performance-me"), "org_slug": org.slug, "task_id": None,
              "user_id": actor.pk, "reviews": reviews}
    return render(request, "performance/scorecard.html", {
        "config": config, "reviews": reviews,
        "feedback": selectors.recent_feedback(org_id=org.pk, user_id=actor.pk)})
