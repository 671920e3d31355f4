"""A task's work log as CSV: every WorkEvent of the task in the order it was written, streamed in keyset pages.

Cells are what a spreadsheet shows as text: a value that starts like a formula (=, +, -, @, tab, carriage return)
gets a leading apostrophe (OWASP CSV injection), whoever typed it (item names, skip reasons in `data`). The export
is a read of everyone's work on the task, so it needs task.manage and is audited as task.worklog_exported.
"""

import csv
import io
from collections.abc import Iterator

from asgiref.sync import sync_to_async

from apps.compliance.services import audit_record
from apps.core.spreadsheets import csv_cell
from apps.tenancy.context import tenant_context
from apps.tenancy.permissions import require_scope

from .models import Task
from .selectors import task_worklog_page

COLUMNS = ["event_id", "at", "kind", "actor", "unit_id", "stage", "item_id", "item_name", "active_seconds",
           "wall_seconds", "data"]
PAGE_SIZE = 2_000


def task_worklog_export(*, org, actor, task: Task) -> Iterator[str]:
    """Records the export, then returns the CSV text in pieces (the header first, then one piece per page)."""
    require_scope(org=org, actor=actor, scope="task.manage", obj=task)
    audit_record(org=org, actor=actor, action="task.worklog_exported", target=task,
                 metadata={"format": "csv", "dataset_id": task.dataset_id})
    return _pieces(org, actor, task)


def _pieces(org, actor, task: Task) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(COLUMNS)
    yield take()
    after = 0
    while True:
        # The response streams after the request's tenant scope was restored: each page sets it again.
        with tenant_context(org, actor):
            rows = task_worklog_page(task=task, after_id=after, size=PAGE_SIZE)
        if not rows:
            return
        for row in rows:
            writer.writerow([csv_cell(value) for value in row])
        after = rows[-1][0]
        yield take()


def for_server(request, pieces: Iterator[str]):
    """Under ASGI Django would read a sync iterator whole before sending it: pull one page at a time instead, on the
    request's own thread (its database connection)."""
    from django.core.handlers.asgi import ASGIRequest

    if not isinstance(request, ASGIRequest):
        return pieces

    def next_piece():
        return next(pieces, None)

    async def apieces():
        step = sync_to_async(next_piece, thread_sensitive=True)
        while (piece := await step()) is not None:
            yield piece

    return apieces()
