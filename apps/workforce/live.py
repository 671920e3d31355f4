"""Live tasks: items added to the dataset after the task was created join it when they match its query.

A periodic sweep (tasks.py) looks at items past the task's cursor. Inserting units is idempotent (one unit per
item and slot, ON CONFLICT DO NOTHING), so an item seen twice changes nothing; the cursor only moves past items
older than SETTLE, so an import whose transaction commits late (its ids allocated earlier) is still seen.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.datasets.query import compile_filter
from apps.datasets.selectors import item_list

from .models import Task

SETTLE = timedelta(minutes=5)


def sync_live_task(*, task: Task) -> int:
    """Adds units for new matching items; returns how many units were added."""
    from .services import _create_units

    if not task.live or task.status == Task.Status.DONE:
        return 0
    items = item_list(dataset=task.dataset).filter(compile_filter(task.query))
    with transaction.atomic():
        locked = Task.objects.for_org(task.organization_id).select_for_update().get(pk=task.pk)
        added = _create_units(task=locked, items=items.filter(id__gt=locked.live_cursor))
        settled = item_list(dataset=task.dataset).filter(created_at__lt=timezone.now() - SETTLE).aggregate(
            top=Max("id"))["top"]
        if settled and settled > locked.live_cursor:
            Task.objects.for_org(task.organization_id).filter(pk=task.pk).update(live_cursor=settled)
    return added


def live_tasks() -> list[tuple[int, int]]:
    """(organisation id, task id) of every live task, across organisations (the periodic sweep only)."""
    from apps.tenancy.context import system_context

    with system_context():
        return list(Task.objects.filter(live=True).exclude(status=Task.Status.DONE)
                    .values_list("organization_id", "id"))
